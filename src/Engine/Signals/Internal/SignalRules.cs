using SignalStream.Contracts;

namespace SignalStream.Engine.Signals.Internal;

/// <summary>The validated <see cref="SignalsOptions"/> resolved once into lookup tables the hot path reads without allocating.</summary>
internal sealed class SignalRules
{
    /// <summary>
    /// Model outputs are float32, so 0.65f is 0.64999998 as a double: thresholds are compared with this tolerance so a
    /// vote exactly at a threshold passes, as the reference rules ("below 0.65" rejects) intend.
    /// </summary>
    internal const double ThresholdTolerance = 1e-6;

    private readonly double[] _timeframeWeights;
    private readonly long[] _expiryMs;

    public SignalRules(SignalsOptions options)
    {
        MinVoteMargin = options.MinVoteMargin;
        MinVoteScore = options.MinVoteScore;
        RequireFamilyAgreement = options.RequireFamilyAgreement;
        AgreementFamilies = options.ResolvedAgreementFamilies().ToArray();

        // Deterministic order (weight, then name) so the fusion sum adds in the same order on every run.
        var families = options.FamilyWeights
            .Where(kv => kv.Value > 0)
            .Select(kv => (Name: kv.Key.Trim().ToLowerInvariant(), Weight: kv.Value))
            .OrderByDescending(f => f.Weight).ThenBy(f => f.Name, StringComparer.Ordinal)
            .ToArray();
        var total = families.Sum(f => f.Weight);
        FusionFamilies = families.Select(f => f.Name).ToArray();
        FusionFamilyWeights = families.Select(f => f.Weight / total).ToArray();

        FusionBaseDirectional = options.FusionBaseDirectional;
        FusionBaseHold = options.FusionBaseHold;
        FusionBoostScale = options.FusionBoostScale;
        FusionStaleCandles = options.FusionStaleCandles;
        TargetAtrBase = options.TargetAtrBase;
        TargetAtrConfidence = options.TargetAtrConfidence;
        StopAtrBase = options.StopAtrBase;
        StopAtrConfidence = options.StopAtrConfidence;
        MinRiskReward = options.MinRiskReward;
        PriceSignificantDigits = options.PriceSignificantDigits;

        var all = Timeframes.All;
        _timeframeWeights = new double[all.Count];
        _expiryMs = new long[all.Count];
        var anchors = options.TimeframeWeights
            .Select(kv => (Ok: Timeframes.TryParse(kv.Key.AsSpan(), out var tf), Timeframe: tf, Weight: kv.Value))
            .Where(a => a.Ok && a.Weight > 0)
            .Select(a => (Duration: a.Timeframe.NominalDuration().TotalMilliseconds, a.Weight))
            .OrderBy(a => a.Duration)
            .ToArray();
        foreach (var tf in all)
        {
            _timeframeWeights[(int)tf] = DeriveWeight(tf.NominalDuration().TotalMilliseconds, anchors);
            var candles = options.ExpiryCandlesByTimeframe.TryGetValue(tf.ToName(), out var n) ? n : options.ExpiryCandles;
            _expiryMs[(int)tf] = candles * (long)tf.NominalDuration().TotalMilliseconds;
        }
    }

    public double MinVoteMargin { get; }

    public double MinVoteScore { get; }

    public bool RequireFamilyAgreement { get; }

    public string[] AgreementFamilies { get; }

    /// <summary>Families that carry weight in the fusion score, heaviest first.</summary>
    public string[] FusionFamilies { get; }

    /// <summary>Weights of <see cref="FusionFamilies"/>, normalised to sum to 1.</summary>
    public double[] FusionFamilyWeights { get; }

    public double FusionBaseDirectional { get; }

    public double FusionBaseHold { get; }

    public double FusionBoostScale { get; }

    public int FusionStaleCandles { get; }

    public double TargetAtrBase { get; }

    public double TargetAtrConfidence { get; }

    public double StopAtrBase { get; }

    public double StopAtrConfidence { get; }

    public double MinRiskReward { get; }

    public int PriceSignificantDigits { get; }

    /// <summary>The fusion weight of a timeframe: configured, or derived from the configured anchors.</summary>
    public double TimeframeWeight(Timeframe timeframe) => _timeframeWeights[(int)timeframe];

    /// <summary>How long a signal of this timeframe stays open, in milliseconds after its candle's close.</summary>
    public long ExpiryMilliseconds(Timeframe timeframe) => _expiryMs[(int)timeframe];

    /// <summary>Index of <paramref name="family"/> in <see cref="FusionFamilies"/>, or -1.</summary>
    public int FusionFamilyIndex(string family)
    {
        for (var i = 0; i < FusionFamilies.Length; i++)
        {
            if (string.Equals(FusionFamilies[i], family, StringComparison.OrdinalIgnoreCase))
            {
                return i;
            }
        }

        return -1;
    }

    /// <summary>
    /// Below the shortest anchor the weight is proportional to duration (w_min · d / d_min); above the longest it stays
    /// at the longest anchor's weight; between two anchors it is interpolated linearly in log(duration). With the
    /// defaults: 1m 0.01, 5m 0.05, 2h 0.325, 1d 0.35.
    /// </summary>
    private static double DeriveWeight(double duration, (double Duration, double Weight)[] anchors)
    {
        if (duration <= anchors[0].Duration)
        {
            return anchors[0].Weight * duration / anchors[0].Duration;
        }

        for (var i = 1; i < anchors.Length; i++)
        {
            if (duration <= anchors[i].Duration)
            {
                var (d0, w0) = anchors[i - 1];
                var (d1, w1) = anchors[i];
                var t = Math.Log(duration / d0) / Math.Log(d1 / d0);
                return w0 + (w1 - w0) * t;
            }
        }

        return anchors[^1].Weight;
    }
}
