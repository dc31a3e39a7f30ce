using SignalStream.Contracts;

namespace SignalStream.Ingest.Simulated.Internal;

/// <summary>A candle being built from steps, in integer ticks and units so every timeframe aggregates exactly.</summary>
internal struct CandleAccumulator
{
    public bool Active;
    public bool Emit;
    public bool HasData;
    public long OpenTime;
    public long NextOpenTime;
    public long Open;
    public long High;
    public long Low;
    public long Close;
    public long Volume;
    public long TakerBuy;
    public long Trades;
    public Int128 QuoteVolume;        // price ticks × volume units: exact at scale priceScale + volumeScale (≤ 8)
    public Int128 TakerBuyQuoteVolume;

    public void Start(long openTime, long nextOpenTime, bool emit)
    {
        Active = true;
        Emit = emit;
        HasData = false;
        OpenTime = openTime;
        NextOpenTime = nextOpenTime;
        Open = High = Low = Close = 0;
        Volume = TakerBuy = Trades = 0;
        QuoteVolume = TakerBuyQuoteVolume = 0;
    }

    public void Add(in StepTick tick)
    {
        if (!HasData)
        {
            HasData = true;
            Open = tick.Open;
            High = tick.High;
            Low = tick.Low;
        }
        else
        {
            High = Math.Max(High, tick.High);
            Low = Math.Min(Low, tick.Low);
        }

        Close = tick.Close;
        Volume += tick.Volume;
        TakerBuy += tick.TakerBuy;
        Trades += tick.Trades;
        QuoteVolume += (Int128)tick.Close * tick.Volume;
        TakerBuyQuoteVolume += (Int128)tick.Close * tick.TakerBuy;
    }

    public readonly Candle ToCandle(string symbol, Timeframe timeframe, byte priceScale, byte volumeScale) => new(
        symbol,
        timeframe,
        OpenTime,
        NextOpenTime - 1,
        Scaled(Open, priceScale),
        Scaled(High, priceScale),
        Scaled(Low, priceScale),
        Scaled(Close, priceScale),
        Scaled(Volume, volumeScale),
        Scaled(QuoteVolume, (byte)(priceScale + volumeScale)),
        Trades,
        Scaled(TakerBuy, volumeScale),
        Scaled(TakerBuyQuoteVolume, (byte)(priceScale + volumeScale)));

    /// <summary>units × 10^-scale as a decimal, built from its parts (no division, exact).</summary>
    public static decimal Scaled(long units, byte scale)
    {
        var magnitude = (ulong)Math.Abs(units);
        return new decimal((int)(uint)magnitude, (int)(uint)(magnitude >> 32), 0, units < 0, scale);
    }

    /// <summary>units × 10^-scale for non-negative sums below 2^96 (decimal's mantissa).</summary>
    public static decimal Scaled(Int128 units, byte scale)
    {
        var magnitude = (UInt128)units;
        return new decimal((int)(uint)magnitude, (int)(uint)(magnitude >> 32), (int)(uint)(magnitude >> 64), false, scale);
    }
}
