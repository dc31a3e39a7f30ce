using SignalStream.Contracts;

namespace SignalStream.Engine.Journal.Internal;

/// <summary>Identifies one row of the performance report; <c>*</c> in symbol or timeframe marks a roll-up.</summary>
internal readonly record struct GroupKey(string Model, bool IsShadow, string Symbol, string Timeframe);

/// <summary>Running statistics of one group, updated per outcome in O(1): nothing per outcome is kept.</summary>
internal sealed class JournalGroup
{
    internal const int BucketCount = 10;

    private readonly int[] _bucketCount = new int[BucketCount];
    private readonly double[] _bucketPredicted = new double[BucketCount];
    private readonly int[] _bucketWins = new int[BucketCount];
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

    public void Add(OutcomeKind outcome, double r, double predicted)
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
                    Round((double)_bucketWins[i] / _bucketCount[i])));
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
            buckets);
    }

    private static double Round(double value) => Math.Round(value, 4, MidpointRounding.AwayFromZero);
}
