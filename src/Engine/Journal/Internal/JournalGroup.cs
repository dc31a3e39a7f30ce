using SignalStream.Contracts;

namespace SignalStream.Engine.Journal.Internal;

/// <summary>Identifies one row of the performance report; <c>*</c> in symbol or timeframe marks a roll-up.</summary>
internal readonly record struct GroupKey(string Model, bool IsShadow, string Symbol, string Timeframe);

/// <summary>
/// Running statistics of one group, updated per outcome in O(1): nothing per outcome is kept but, on roll-up rows, an
/// equity curve of at most <see cref="EquityPoint.MaxPoints"/> points.
/// </summary>
internal sealed partial class JournalGroup(bool keepsEquity)
{
    internal const int BucketCount = 10;

    private readonly int[] _bucketCount = new int[BucketCount];
    private readonly double[] _bucketPredicted = new double[BucketCount];
    private readonly int[] _bucketWins = new int[BucketCount];
    private readonly double[] _bucketR = new double[BucketCount];

    // The equity curve of a roll-up row: at most MaxPoints points; when full, every other one is dropped and the
    // stride doubles, so memory and the report stay bounded while the whole history keeps its shape.
    private readonly List<EquityPoint>? _equity = keepsEquity ? new List<EquityPoint>(EquityPoint.MaxPoints) : null;
    private int _equityStride = 1;
    private long _lastCandleOpenTime;
    private double _grossWin;
    private double _grossLoss;
    private double _sumR;
    private double _cumulativeR;
    private double _peakR;
    private double _maxDrawdown;
    private double _brierSum;

    public int Open { get; set; }

    public int Wins { get; private set; }

    public int Losses { get; private set; }

    public int Expired { get; private set; }

    public int Resolved => Wins + Losses + Expired;

    public double WinRate => Resolved == 0 ? 0 : (double)Wins / Resolved;

    /// <summary>
    /// Gross positive R / gross negative R (expiries count on the side their R falls). Finite by definition: with no
    /// losing R it is the gross winning R itself (0 when there is nothing), the convention the contract states.
    /// </summary>
    public double ProfitFactor => _grossLoss > 0 ? _grossWin / _grossLoss : _grossWin;

    public void Add(OutcomeKind outcome, double r, double predicted, long resolvedCandleOpenTime)
    {
        switch (outcome)
        {
            case OutcomeKind.Win:
                Wins++;
                break;
            case OutcomeKind.Loss:
                Losses++;
                break;
            default:
                Expired++;
                break;
        }

        if (r > 0)
        {
            _grossWin += r;
        }
        else
        {
            _grossLoss -= r;
        }

        _sumR += r;
        _cumulativeR += r;
        _peakR = Math.Max(_peakR, _cumulativeR);
        _maxDrawdown = Math.Max(_maxDrawdown, _peakR - _cumulativeR);

        // Brier: the predicted probability of the signal's direction against whether it won (expiries count as not won).
        var won = outcome == OutcomeKind.Win ? 1.0 : 0.0;
        var p = Math.Clamp(predicted, 0, 1);
        _brierSum += (p - won) * (p - won);
        var bucket = Math.Min((int)(p * BucketCount), BucketCount - 1);
        _bucketCount[bucket]++;
        _bucketPredicted[bucket] += p;
        _bucketWins[bucket] += (int)won;
        _bucketR[bucket] += r;

        if (_equity is not null && Resolved % _equityStride == 0)
        {
            if (_equity.Count == EquityPoint.MaxPoints)
            {
                Thin(_equity);
                _equityStride *= 2;
            }

            if (Resolved % _equityStride == 0)
            {
                _equity.Add(new EquityPoint(Resolved, resolvedCandleOpenTime, Round(_cumulativeR), Round(_peakR - _cumulativeR)));
            }
        }

        if (_equity is not null)
        {
            _lastCandleOpenTime = resolvedCandleOpenTime;
        }
    }

    /// <summary>Keeps the points whose ordinal is a multiple of twice the stride (the 2nd, 4th, … of the current ones).</summary>
    private void Thin(List<EquityPoint> points)
    {
        var kept = 0;
        for (var i = 0; i < points.Count; i++)
        {
            if (points[i].Resolved % (_equityStride * 2) == 0)
            {
                points[kept++] = points[i];
            }
        }

        points.RemoveRange(kept, points.Count - kept);
    }

    public PerformanceGroup ToReport(GroupKey key)
    {
        var buckets = new List<CalibrationBucket>();
        for (var i = 0; i < BucketCount; i++)
        {
            if (_bucketCount[i] > 0)
            {
                buckets.Add(new CalibrationBucket(
                    (double)i / BucketCount,
                    (double)(i + 1) / BucketCount,
                    _bucketCount[i],
                    Round(_bucketPredicted[i] / _bucketCount[i]),
                    Round((double)_bucketWins[i] / _bucketCount[i]))
                {
                    AverageR = Round(_bucketR[i] / _bucketCount[i]),
                });
            }
        }

        return new PerformanceGroup(
            key.Model,
            key.IsShadow,
            key.Symbol,
            key.Timeframe,
            Open + Resolved,
            Open,
            Wins,
            Losses,
            Expired,
            Round(WinRate),
            Round(ProfitFactor),
            Resolved == 0 ? 0 : Round(_sumR / Resolved),
            Round(_maxDrawdown),
            Resolved == 0 ? null : Round(_brierSum / Resolved),
            buckets)
        {
            Equity = _equity is null ? null : Curve(),
        };
    }

    /// <summary>The kept points, ending with the newest outcome's (which the stride may have skipped).</summary>
    private List<EquityPoint> Curve()
    {
        var curve = new List<EquityPoint>(_equity!.Count + 1);
        curve.AddRange(_equity);
        if (Resolved > 0 && (curve.Count == 0 || curve[^1].Resolved != Resolved))
        {
            curve.Add(new EquityPoint(Resolved, _lastCandleOpenTime, Round(_cumulativeR), Round(_peakR - _cumulativeR)));
        }

        return curve;
    }

    private static double Round(double value) => Math.Round(value, 4, MidpointRounding.AwayFromZero);
}
