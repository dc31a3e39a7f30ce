using SignalStream.Contracts;
using SignalStream.Ingest.Simulated.Internal;

namespace SignalStream.Ingest.Simulated;

/// <summary>
/// A deterministic market: one fine-grained price path per symbol, aggregated exactly into every configured
/// timeframe (a 5m candle is the aggregate of its 1m candles, to the last unit).
/// </summary>
/// <remarks>
/// Each symbol's path depends only on the seed, the symbol's name (a stable FNV-1a hash, not
/// <see cref="string.GetHashCode()"/>), the step length and the market time the simulation starts at, so adding a
/// symbol never changes another's candles. The step is the longest of 1d, 1h, 15m, 5m, 1m, 1s that divides every
/// configured timeframe. Prices are whole ticks and volumes whole lots of the symbol, so decimal aggregation is exact.
/// Use <see cref="GenerateClosed"/> offline; the live source drives <see cref="Begin"/>, <see cref="Step"/> and
/// <see cref="GetProgress"/> on the market clock.
/// </remarks>
public sealed class MarketSimulator
{
    /// <summary>The end of offline generation unless one is given: 2025-01-01T00:00:00Z.</summary>
    public const long DefaultEndTimeMs = 1_735_689_600_000;

    private static readonly long[] s_stepCandidates = [86_400_000, 3_600_000, 900_000, 300_000, 60_000, 1_000];

    private readonly SymbolPath[] _paths;
    private readonly Timeframe[] _timeframes;
    private readonly CandleAccumulator[] _candles;   // [symbol * timeframes + timeframe]
    private readonly StepTick[] _pending;
    private readonly long[] _firstEmittedOpen;
    private bool _hasPending;

    /// <param name="symbols">Upper-case symbols.</param>
    /// <param name="timeframes">Distinct timeframes.</param>
    /// <param name="seed">The seed (<c>Ingest:Simulated:Seed</c>).</param>
    public MarketSimulator(IReadOnlyList<string> symbols, IReadOnlyList<Timeframe> timeframes, long seed)
    {
        ArgumentNullException.ThrowIfNull(symbols);
        ArgumentNullException.ThrowIfNull(timeframes);
        if (symbols.Count == 0 || timeframes.Count == 0)
        {
            throw new ArgumentException("The simulator needs at least one symbol and one timeframe.");
        }

        _timeframes = [.. timeframes.Distinct().Order()];
        StepMs = ChooseStep(_timeframes);
        Symbols = [.. symbols];
        _paths = new SymbolPath[symbols.Count];
        for (var i = 0; i < symbols.Count; i++)
        {
            _paths[i] = new SymbolPath(SymbolProfile.For(symbols[i]), unchecked((ulong)seed), StepMs);
        }

        _candles = new CandleAccumulator[symbols.Count * _timeframes.Length];
        _pending = new StepTick[symbols.Count];
        _firstEmittedOpen = new long[_timeframes.Length];
    }

    /// <summary>The symbols, in the order given.</summary>
    public IReadOnlyList<string> Symbols { get; }

    /// <summary>The timeframes, shortest first.</summary>
    public IReadOnlyList<Timeframe> Timeframes => _timeframes;

    /// <summary>The length of one fine-grained step, in milliseconds.</summary>
    public long StepMs { get; }

    /// <summary>Market time (Unix ms) at which the next step starts.</summary>
    public long MarketTime { get; private set; }

    /// <summary>
    /// Generates the last <paramref name="candlesPerStream"/> closed candles of every stream up to
    /// <paramref name="endTimeMs"/> (default <see cref="DefaultEndTimeMs"/>), as fast as possible, in close order.
    /// </summary>
    public static IEnumerable<Candle> GenerateClosed(
        IReadOnlyList<string> symbols,
        IReadOnlyList<Timeframe> timeframes,
        int candlesPerStream,
        long seed = 42,
        long endTimeMs = DefaultEndTimeMs)
    {
        var simulator = new MarketSimulator(symbols, timeframes, seed);
        var end = simulator.Begin(endTimeMs, candlesPerStream);
        var closed = new List<Candle>();
        while (simulator.MarketTime < end)
        {
            closed.Clear();
            simulator.Step(closed);
            foreach (var candle in closed)
            {
                yield return candle;
            }
        }
    }

    /// <summary>
    /// Positions the market so that stepping up to the returned time (<paramref name="endTimeMs"/> floored to a step)
    /// closes exactly <paramref name="historyCandles"/> candles per stream; candles before those are simulated but
    /// not emitted.
    /// </summary>
    /// <returns>The step-aligned end of the history: live time starts here.</returns>
    public long Begin(long endTimeMs, int historyCandles)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(historyCandles);
        var end = endTimeMs - (((endTimeMs % StepMs) + StepMs) % StepMs);
        var start = end;
        for (var t = 0; t < _timeframes.Length; t++)
        {
            var open = _timeframes[t].OpenTimeOf(end);
            for (var n = 0; n < historyCandles; n++)
            {
                open = PreviousOpenTime(_timeframes[t], open);
            }

            _firstEmittedOpen[t] = open;
            start = Math.Min(start, open);
        }

        MarketTime = start;
        Array.Clear(_candles);
        _hasPending = false;
        return end;
    }

    /// <summary>Advances every symbol by one step and appends the candles that closed, in symbol then timeframe order.</summary>
    public void Step(ICollection<Candle> closed)
    {
        ArgumentNullException.ThrowIfNull(closed);
        EnsurePending();
        var stepEnd = MarketTime + StepMs;
        for (var s = 0; s < _paths.Length; s++)
        {
            ref readonly var tick = ref _pending[s];
            for (var t = 0; t < _timeframes.Length; t++)
            {
                ref var candle = ref _candles[(s * _timeframes.Length) + t];
                if (!candle.Active)
                {
                    StartCandle(ref candle, t);
                }

                candle.Add(tick);
                if (stepEnd == candle.NextOpenTime)
                {
                    candle.Active = false;
                    if (candle.Emit)
                    {
                        closed.Add(ToCandle(s, t, candle));
                    }
                }
            }
        }

        MarketTime = stepEnd;
        _hasPending = false;
    }

    /// <summary>
    /// The in-progress candle of stream (<paramref name="symbolIndex"/>, <paramref name="timeframeIndex"/>) when
    /// <paramref name="fraction"/> (0–1) of the current step has passed.
    /// </summary>
    public Candle GetProgress(int symbolIndex, int timeframeIndex, double fraction)
    {
        EnsurePending();
        var full = _pending[symbolIndex];
        var partial = full;
        partial.Close = full.Open + (long)Math.Round((full.Close - full.Open) * fraction);
        var top = Math.Max(full.Open, partial.Close);
        var bottom = Math.Min(full.Open, partial.Close);
        partial.High = top + (long)Math.Round((full.High - Math.Max(full.Open, full.Close)) * fraction);
        partial.Low = Math.Max(1, bottom - (long)Math.Round((Math.Min(full.Open, full.Close) - full.Low) * fraction));
        partial.Volume = (long)Math.Round(full.Volume * fraction);
        partial.TakerBuy = (long)Math.Round(full.TakerBuy * fraction);
        partial.Trades = (long)Math.Round(full.Trades * fraction);

        var candle = _candles[(symbolIndex * _timeframes.Length) + timeframeIndex];
        if (!candle.Active)
        {
            StartCandle(ref candle, timeframeIndex);
        }

        candle.Add(partial);
        return ToCandle(symbolIndex, timeframeIndex, candle);
    }

    private void EnsurePending()
    {
        if (_hasPending)
        {
            return;
        }

        for (var s = 0; s < _paths.Length; s++)
        {
            _pending[s] = _paths[s].Next(MarketTime);
        }

        _hasPending = true;
    }

    private void StartCandle(ref CandleAccumulator candle, int timeframeIndex)
    {
        var timeframe = _timeframes[timeframeIndex];
        var open = timeframe.OpenTimeOf(MarketTime);
        candle.Start(open, timeframe.NextOpenTime(open), emit: open >= _firstEmittedOpen[timeframeIndex]);
    }

    private Candle ToCandle(int symbolIndex, int timeframeIndex, in CandleAccumulator candle)
    {
        var profile = _paths[symbolIndex].Profile;
        return candle.ToCandle(Symbols[symbolIndex], _timeframes[timeframeIndex], (byte)profile.PriceScale, (byte)profile.VolumeScale);
    }

    private static long PreviousOpenTime(Timeframe timeframe, long openTime) => timeframe == Timeframe.OneMonth
        ? DateTimeOffset.FromUnixTimeMilliseconds(openTime).AddMonths(-1).ToUnixTimeMilliseconds()
        : openTime - (long)timeframe.NominalDuration().TotalMilliseconds;

    private static long ChooseStep(Timeframe[] timeframes)
    {
        var shortest = (long)timeframes[0].NominalDuration().TotalMilliseconds;
        foreach (var step in s_stepCandidates)
        {
            if (step > shortest)
            {
                continue;
            }

            var divides = true;
            foreach (var timeframe in timeframes)
            {
                // Weeks (Monday-aligned) and months start on day boundaries, which every candidate divides.
                var length = timeframe is Timeframe.OneMonth or Timeframe.OneWeek
                    ? 86_400_000
                    : (long)timeframe.NominalDuration().TotalMilliseconds;
                divides &= length % step == 0;
            }

            if (divides)
            {
                return step;
            }
        }

        return 1_000;
    }
}
