using SignalStream.Contracts;
using SignalStream.Engine.Features.Internal;
using F = SignalStream.Engine.Features.FeatureCatalog;

namespace SignalStream.Engine.Features;

/// <summary>
/// One stream's incremental indicators and its last feature rows. One writer: the engine calls
/// <see cref="Update"/> for each closed candle of the stream, in order. O(1) per candle, no allocation after
/// construction.
/// </summary>
/// <remarks>The exact definition of every feature is in <c>docs/features.md</c>.</remarks>
public sealed class StreamFeatureState
{
    private const int ReturnLookback = 24;
    private const int RsiPeriod = 14;
    private const int AtrPeriod = 14;
    private const double Ema12Alpha = 2.0 / 13.0;
    private const double Ema26Alpha = 2.0 / 27.0;
    private const double Ema9Alpha = 2.0 / 10.0;

    private readonly int _capacity;

    // Every row is stored twice, at its ring slot and at slot + capacity, so any window of up to capacity rows is one
    // contiguous run of floats: a model whose features are the catalog in order gets its window in one block copy.
    private readonly float[] _rows;

    // Each stored row's bar index (Timeframes.BarIndex of its candle), at the row's ring slot: a recurrent model's
    // chains are anchored on bars, and rows across an exchange's hole are not consecutive bars.
    private readonly long[] _bars;

    // Every double the indicators keep, in one array: the newest row, the log closes and the four rolling windows.
    // A closing burst touches thousands of streams once each; two arrays a stream miss the cache far less than ten.
    private static readonly int s_logClosesAt = F.Count;
    private static readonly int s_squaredReturns12At = s_logClosesAt + LogCloses;
    private static readonly int s_squaredReturns48At = s_squaredReturns12At + 12;
    private static readonly int s_bollingerAt = s_squaredReturns48At + 48;
    private static readonly int s_volume48At = s_bollingerAt + 20;
    private static readonly int s_stateLength = s_volume48At + 48;
    private readonly double[] _state = new double[s_stateLength];

    // Natural logs of the last 25 closes (ring index _closeNext - 1 is the newest): every return is a difference of
    // two logs, so a candle costs one logarithm instead of five.
    private const int LogCloses = ReturnLookback + 1;
    private int _closeNext;
    private int _rowNext;
    private double _previousClose;
    private RollingMoments _squaredReturns12 = new(s_squaredReturns12At, 12);
    private RollingMoments _squaredReturns48 = new(s_squaredReturns48At, 48);
    private RollingMoments _bollinger = new(s_bollingerAt, 20);
    private RollingMoments _volume48 = new(s_volume48At, 48);

    private long _seen;
    private long _firstWarmBar = NoBar;
    private double _ema12;
    private double _ema26;
    private double _macdSignal;
    private double _avgGain;
    private double _avgLoss;
    private double _atr;
    private IndicatorSnapshot _snapshot;

    /// <param name="windowCapacity">How many of the latest feature rows to keep: the longest model window served.</param>
    public StreamFeatureState(int windowCapacity)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(windowCapacity, 1);
        _capacity = windowCapacity;
        _rows = new float[2 * windowCapacity * F.Count];
        _bars = new long[windowCapacity];
    }

    /// <summary>The bar of a row that does not exist (before the first warm row).</summary>
    public const long NoBar = long.MinValue;

    /// <summary>Closed candles seen so far.</summary>
    public long CandlesSeen => _seen;

    /// <summary>How many rows <see cref="CopyWindow"/> can serve at most.</summary>
    public int WindowCapacity => _capacity;

    /// <summary>True once every indicator has seen <see cref="FeatureCatalog.WarmupCandles"/> candles.</summary>
    public bool IsWarm => _seen >= F.WarmupCandles;

    /// <summary>Feature rows computed since the stream became warm (the first warm row included).</summary>
    public long WarmRows => _seen < F.WarmupCandles ? 0 : _seen - F.WarmupCandles + 1;

    /// <summary>The newest feature row in full double precision (for export and tests); zeros before the first candle.</summary>
    public ReadOnlySpan<double> LatestRow => _state.AsSpan(0, F.Count);

    /// <summary>Indicators after the latest candle; all zero while the stream is not warm.</summary>
    public IndicatorSnapshot Snapshot => IsWarm ? _snapshot : default;

    /// <summary>The bar index of the first warm row (<see cref="NoBar"/> before it): where everything this state can replay begins.</summary>
    public long FirstWarmBar => _firstWarmBar;

    /// <summary>
    /// The bar index of the warm row <paramref name="back"/> rows before the newest (0: the newest), or
    /// <see cref="NoBar"/> when that row is not warm or no longer held.
    /// </summary>
    public long BarAgo(int back)
    {
        if (back < 0 || back >= _capacity || back >= WarmRows)
        {
            return NoBar;
        }

        var slot = _rowNext - 1 - back;
        return _bars[slot < 0 ? slot + _capacity : slot];
    }

    /// <summary>How many of the latest warm rows held have a bar index of at least <paramref name="bar"/>.</summary>
    public int RowsSince(long bar)
    {
        var rows = 0;
        while (BarAgo(rows) is var b && b != NoBar && b >= bar)
        {
            rows++;
        }

        return rows;
    }

    /// <summary>The bar indexes of the latest <paramref name="rows"/> rows, oldest first (the rows <see cref="CopyWindow"/> copies).</summary>
    public void CopyBars(int rows, Span<long> destination)
    {
        if (!HasWindow(rows))
        {
            throw new InvalidOperationException($"{rows} rows are not available: {WarmRows} warm rows held, capacity {_capacity}.");
        }

        for (var i = 0; i < rows; i++)
        {
            destination[i] = BarAgo(rows - 1 - i);
        }
    }

    /// <summary>True once indicators are warm and <paramref name="window"/> warm rows are held.</summary>
    public bool HasWindow(int window) => window >= 1 && window <= _capacity && WarmRows >= window;

    /// <summary>Advances every indicator by one closed candle and stores its feature row.</summary>
    public void Update(in Candle closed)
    {
        // decimal → double once per candle; everything below is double arithmetic.
        var open = (double)closed.Open;
        var high = (double)closed.High;
        var low = (double)closed.Low;
        var close = (double)closed.Close;
        var volume = (double)closed.Volume;
        var takerBuy = (double)closed.TakerBuyBaseVolume;
        _bars[_rowNext] = closed.Timeframe.BarIndex(closed.OpenTime);
        Compute(open, high, low, close, volume, takerBuy);
        if (_firstWarmBar == NoBar && IsWarm)
        {
            _firstWarmBar = BarAgo(0);
        }
    }

    /// <summary>
    /// Copies the latest <paramref name="window"/> rows, oldest first, row-major <c>[window][features]</c>, taking
    /// the features at <paramref name="featureIndices"/> (positions in <see cref="FeatureCatalog.Names"/>).
    /// </summary>
    /// <exception cref="InvalidOperationException">The window is not available yet (check <see cref="HasWindow"/>).</exception>
    public void CopyWindow(ReadOnlySpan<int> featureIndices, int window, Span<float> destination)
    {
        if (!HasWindow(window))
        {
            throw new InvalidOperationException(
                $"A window of {window} rows is not available: {WarmRows} warm rows held, capacity {_capacity}.");
        }

        var width = featureIndices.Length;
        if (destination.Length < window * width)
        {
            throw new ArgumentException(
                $"The destination holds {destination.Length} floats; a window of {window} x {width} needs {window * width}.",
                nameof(destination));
        }

        // The newest row sits at slot _rowNext - 1; the window's oldest row, window - 1 before it, wraps into the
        // mirrored half, which keeps the whole window contiguous.
        var oldest = _rowNext - window;
        if (oldest < 0)
        {
            oldest += _capacity;
        }

        var rows = _rows.AsSpan(oldest * F.Count, window * F.Count);
        if (IsWholeCatalog(featureIndices))
        {
            rows.CopyTo(destination);
            return;
        }

        var offset = 0;
        for (var r = 0; r < window; r++)
        {
            var row = rows.Slice(r * F.Count, F.Count);
            var target = destination.Slice(offset, width);
            for (var j = 0; j < target.Length; j++)
            {
                target[j] = row[featureIndices[j]];
            }

            offset += width;
        }
    }

    private static bool IsWholeCatalog(ReadOnlySpan<int> featureIndices)
    {
        if (featureIndices.Length != F.Count)
        {
            return false;
        }

        for (var i = 0; i < featureIndices.Length; i++)
        {
            if (featureIndices[i] != i)
            {
                return false;
            }
        }

        return true;
    }

    private void Compute(double open, double high, double low, double close, double volume, double takerBuy)
    {
        var first = _seen == 0;
        var previousClose = first ? close : _previousClose;
        _previousClose = close;
        _seen++;
        var logClose = Math.Log(close);
        _state[s_logClosesAt + _closeNext] = logClose;
        if (++_closeNext == LogCloses)
        {
            _closeNext = 0;
        }

        var row = _state.AsSpan(0, F.Count);

        // Log returns over k candles; before k+1 candles exist they reach back to the first candle.
        var ret1 = logClose - LogCloseAgo(1);
        row[F.Ret1] = ret1;
        row[F.Ret3] = logClose - LogCloseAgo(3);
        row[F.Ret6] = logClose - LogCloseAgo(6);
        row[F.Ret12] = logClose - LogCloseAgo(12);
        row[F.Ret24] = logClose - LogCloseAgo(24);

        // Realised volatility: root mean square of one-candle log returns (the mean return is ~0 and noisy).
        if (!first)
        {
            _squaredReturns12.Push(_state, ret1 * ret1);
            _squaredReturns48.Push(_state, ret1 * ret1);
        }

        var vol12 = Math.Sqrt(_squaredReturns12.Mean);
        var vol48 = Math.Sqrt(_squaredReturns48.Mean);
        row[F.Vol12] = vol12;
        row[F.Vol48] = vol48;
        row[F.VolRatio] = vol48 > 0 ? (vol12 / vol48) - 1 : 0;

        // RSI-14 (Wilder): the first average is the mean of the first 14 changes, then (avg*13 + x) / 14.
        var rsi = 50.0;
        if (!first)
        {
            var change = close - previousClose;
            var gain = change > 0 ? change : 0;
            var loss = change < 0 ? -change : 0;
            var changes = _seen - 1;
            if (changes <= RsiPeriod)
            {
                _avgGain += gain / RsiPeriod;
                _avgLoss += loss / RsiPeriod;
            }
            else
            {
                _avgGain = ((_avgGain * (RsiPeriod - 1)) + gain) / RsiPeriod;
                _avgLoss = ((_avgLoss * (RsiPeriod - 1)) + loss) / RsiPeriod;
            }

            if (changes >= RsiPeriod)
            {
                rsi = _avgLoss == 0 ? (_avgGain == 0 ? 50 : 100) : 100 - (100 / (1 + (_avgGain / _avgLoss)));
            }
        }

        row[F.Rsi14] = (rsi - 50) / 50;

        // MACD(12,26,9): EMAs seeded with the first value (no SMA seed), normalised by the close.
        if (first)
        {
            _ema12 = close;
            _ema26 = close;
            _macdSignal = 0;
        }
        else
        {
            _ema12 += Ema12Alpha * (close - _ema12);
            _ema26 += Ema26Alpha * (close - _ema26);
            _macdSignal += Ema9Alpha * ((_ema12 - _ema26) - _macdSignal);
        }

        var macd = _ema12 - _ema26;
        var perClose = 1 / close;
        row[F.MacdLine] = macd * perClose;
        row[F.MacdSignal] = _macdSignal * perClose;
        row[F.MacdHist] = (macd - _macdSignal) * perClose;
        row[F.EmaDist26] = (close / _ema26) - 1;

        // Bollinger(20, 2): position is (close - mid) / (2 sigma), so the bands sit at -1 and +1.
        _bollinger.Push(_state, close);
        var mid = _bollinger.Mean;
        var sigma = Math.Sqrt(_bollinger.Variance);
        // A sigma below 1e-9 of the price is rounding noise of a flat window (no real market moves by less than a
        // tick, which is 1e-8 of the price or more), and dividing by it would turn noise into a full-band signal.
        row[F.BollingerPosition] = sigma > 1e-9 * Math.Abs(mid) ? (close - mid) / (2 * sigma) : 0;
        row[F.BollingerWidth] = mid > 0 ? 4 * sigma / mid : 0;

        // ATR-14 (Wilder): true range of the first candle is high - low; first ATR is the mean of 14 true ranges.
        var trueRange = first
            ? high - low
            : Math.Max(high - low, Math.Max(Math.Abs(high - previousClose), Math.Abs(low - previousClose)));
        if (_seen <= AtrPeriod)
        {
            _atr = ((_atr * (_seen - 1)) + trueRange) / _seen;
        }
        else
        {
            _atr = ((_atr * (AtrPeriod - 1)) + trueRange) / AtrPeriod;
        }

        row[F.Atr14] = _atr * perClose;

        // Volume z-score over 48 candles; a flat window (all equal, e.g. no trades) scores 0.
        _volume48.Push(_state, volume);
        var volumeMean = _volume48.Mean;
        var volumeVariance = _volume48.Variance;
        row[F.VolumeZ48] = volumeVariance > 1e-12 * volumeMean * volumeMean && volumeVariance > 0
            ? (volume - volumeMean) / Math.Sqrt(volumeVariance)
            : 0;

        // Candle shape as fractions of its range; a zero-range candle has no shape.
        var range = high - low;
        if (range > 0)
        {
            row[F.Body] = (close - open) / range;
            row[F.UpperWick] = (high - Math.Max(open, close)) / range;
            row[F.LowerWick] = (Math.Min(open, close) - low) / range;
        }
        else
        {
            row[F.Body] = 0;
            row[F.UpperWick] = 0;
            row[F.LowerWick] = 0;
        }

        row[F.Range] = low > 0 ? Math.Log(high / low) : 0;
        row[F.TakerBuyRatio] = volume > 0 ? (takerBuy / volume) - 0.5 : 0;

        var target = _rows.AsSpan(_rowNext * F.Count, F.Count);
        var mirror = _rows.AsSpan((_rowNext + _capacity) * F.Count, F.Count);
        for (var i = 0; i < target.Length; i++)
        {
            var value = (float)row[i];
            target[i] = value;
            mirror[i] = value;
        }

        if (++_rowNext == _capacity)
        {
            _rowNext = 0;
        }

        _snapshot = new IndicatorSnapshot(
            Close: close,
            Atr14: _atr,
            Rsi14: rsi,
            MacdHistogram: macd - _macdSignal,
            BollingerPosition: row[F.BollingerPosition],
            RealizedVolatility: vol48,
            VolumeZScore: row[F.VolumeZ48]);
    }

    // The log close k candles ago, or the first one while fewer than k+1 candles were seen.
    private double LogCloseAgo(int k)
    {
        var back = _seen - 1 < k ? (int)(_seen - 1) : k;
        var index = _closeNext - 1 - back;
        return _state[s_logClosesAt + (index < 0 ? index + LogCloses : index)];
    }
}
