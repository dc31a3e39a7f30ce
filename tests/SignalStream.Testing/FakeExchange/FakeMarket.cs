using SignalStream.Contracts;

namespace SignalStream.Testing.FakeExchange;

/// <summary>
/// Deterministic candles: every value is a pure function of (seed, symbol, timeframe, open time), so WebSocket frames,
/// REST history and a test's expectations agree exactly without sharing state. Each candle opens at the previous one's
/// close. Prices have 8 decimals like Binance's.
/// </summary>
public sealed class FakeMarket(int seed)
{
    private const decimal Tick = 0.00000001m;

    public int Seed { get; } = seed;

    /// <summary>The final (closed) candle that opened at <paramref name="openTime"/>.</summary>
    public Candle CandleAt(string symbol, Timeframe timeframe, long openTime) => PartialAt(symbol, timeframe, openTime, 1, 1);

    /// <summary>The in-progress state of a candle <paramref name="step"/>/<paramref name="steps"/> of the way through.</summary>
    public Candle PartialAt(string symbol, Timeframe timeframe, long openTime, int step, int steps)
    {
        var f = (decimal)step / steps;
        var basePrice = BasePrice(symbol);
        var open = Level(symbol, timeframe, openTime, basePrice);
        var finalClose = Level(symbol, timeframe, timeframe.NextOpenTime(openTime), basePrice);
        var h = Hash(symbol, timeframe, openTime, 7);
        var wickUp = Round(basePrice * 0.003m * Unit(h, 0));
        var wickDown = Round(basePrice * 0.003m * Unit(h, 1));
        var volume = Round(1 + (Unit(h, 2) * 999));
        var takerShare = Unit(h, 3);
        var trades = 1 + (long)(Unit(h, 4) * 4999);

        var close = Round(open + ((finalClose - open) * f));
        var high = Round(Math.Max(open, close) + (wickUp * f));
        var low = Math.Max(Tick, Round(Math.Min(open, close) - (wickDown * f)));
        var vol = Round(volume * f);
        var quote = Round(vol * ((open + close) / 2));
        var takerBase = Round(vol * takerShare);
        var takerQuote = Round(quote * takerShare);
        var tradeCount = Math.Max(step == steps ? trades : 0, (long)(trades * f));
        return new Candle(symbol, timeframe, openTime, timeframe.CloseTimeOf(openTime), open, high, low, close, vol, quote,
            tradeCount, takerBase, takerQuote);
    }

    /// <summary>First trade id of a candle (the <c>f</c> field); <c>L</c> is f + n - 1.</summary>
    public long FirstTradeId(string symbol, Timeframe timeframe, long openTime) =>
        (long)(Hash(symbol, timeframe, openTime, 11) >> 24);

    private decimal BasePrice(string symbol) => 1 + (Hash(symbol, Timeframe.OneSecond, 0, 3) % 5_000_000) / 100m;

    // Mean-reverting around the base: a random +/-2 % level per candle boundary, so neighbouring candles connect.
    private decimal Level(string symbol, Timeframe timeframe, long time, decimal basePrice) =>
        Round(basePrice * (0.98m + (0.04m * Unit(Hash(symbol, timeframe, time, 5), 0))));

    private static decimal Round(decimal value) => Math.Round(value, 8, MidpointRounding.ToEven);

    private static decimal Unit(ulong hash, int lane) => ((hash >> (lane * 12)) & 0xFFF) / 4096m;

    private ulong Hash(string symbol, Timeframe timeframe, long time, int salt)
    {
        var h = 1469598103934665603UL ^ (ulong)Seed;
        foreach (var ch in symbol)
        {
            h = (h ^ ch) * 1099511628211UL;
        }

        return Mix(Mix(h ^ (ulong)timeframe) ^ (ulong)time ^ ((ulong)salt << 56));
    }

    private static ulong Mix(ulong z)
    {
        z += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }
}
