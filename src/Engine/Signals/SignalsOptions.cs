using SignalStream.Contracts;

namespace SignalStream.Engine.Signals;

/// <summary>The <c>Signals</c> configuration section: every decision threshold, with the reference systems' defaults.</summary>
/// <remarks>
/// Bound once and validated at start (<see cref="Validate"/>); the stage works from an immutable snapshot of it.
/// Dictionaries merge with their defaults (configuration can change a default's value or add keys, not remove keys).
/// </remarks>
public sealed class SignalsOptions
{
    public const string SectionName = "Signals";

    /// <summary>No signal when |long − short| of the ensemble vote is below this (SignalStack: 0.15).</summary>
    public double MinVoteMargin { get; set; } = 0.15;

    /// <summary>No signal when max(long, short) of the ensemble vote is below this (SignalStack: 0.65).</summary>
    public double MinVoteScore { get; set; } = 0.65;

    /// <summary>
    /// When true (default), a long or short needs a vote from every family in <see cref="AgreementFamilies"/> and all
    /// must agree; a stream where a family has no model gives no signal. When false, the families present must agree.
    /// </summary>
    public bool RequireFamilyAgreement { get; set; } = true;

    /// <summary>Model families that must agree (FusionTrade: <c>lstm</c> and <c>patchtst</c>). Empty: those defaults.</summary>
    public List<string> AgreementFamilies { get; set; } = [];

    /// <summary>Fusion score model-family weights (FusionTrade: LSTM 0.60, PatchTST 0.40).</summary>
    public Dictionary<string, double> FamilyWeights { get; set; } = new(StringComparer.OrdinalIgnoreCase)
    {
        ["lstm"] = 0.60,
        ["patchtst"] = 0.40,
    };

    /// <summary>
    /// Fusion score timeframe weights by Binance interval name (FusionTrade: 4h 0.35, 1h 0.30, 30m 0.20, 15m 0.15).
    /// Other timeframes are derived from these anchors (see docs/signals.md).
    /// </summary>
    public Dictionary<string, double> TimeframeWeights { get; set; } = new(StringComparer.Ordinal)
    {
        ["15m"] = 0.15,
        ["30m"] = 0.20,
        ["1h"] = 0.30,
        ["4h"] = 0.35,
    };

    /// <summary>Fusion score base for a directional verdict (FusionTrade: 55).</summary>
    public double FusionBaseDirectional { get; set; } = 55;

    /// <summary>Fusion score base for hold / divergent (FusionTrade: 30).</summary>
    public double FusionBaseHold { get; set; } = 30;

    /// <summary>Scale of the fusion boost: confidence × agreement × weight × this (FusionTrade: 50).</summary>
    public double FusionBoostScale { get; set; } = 50;

    /// <summary>A timeframe's latest prediction counts in the fusion score while it is at most this many of its own candles old.</summary>
    public int FusionStaleCandles { get; set; } = 2;

    /// <summary>Long target = entry·(1 + atr%·(TargetAtrBase + TargetAtrConfidence·c)) (SignalStack: 1.5).</summary>
    public double TargetAtrBase { get; set; } = 1.5;

    /// <summary>See <see cref="TargetAtrBase"/> (SignalStack: 1.5).</summary>
    public double TargetAtrConfidence { get; set; } = 1.5;

    /// <summary>Long stop = entry·(1 − atr%·(StopAtrBase − StopAtrConfidence·c)) (SignalStack: 1.5).</summary>
    public double StopAtrBase { get; set; } = 1.5;

    /// <summary>See <see cref="StopAtrBase"/> (SignalStack: 0.7).</summary>
    public double StopAtrConfidence { get; set; } = 0.7;

    /// <summary>Drop the signal when reward / risk is below this (SignalStack: 1.2).</summary>
    public double MinRiskReward { get; set; } = 1.2;

    /// <summary>A signal expires after this many candles of its timeframe unless resolved earlier.</summary>
    public int ExpiryCandles { get; set; } = 12;

    /// <summary>Per-timeframe overrides of <see cref="ExpiryCandles"/>, by Binance interval name (for example <c>"1m": 30</c>).</summary>
    public Dictionary<string, int> ExpiryCandlesByTimeframe { get; set; } = new(StringComparer.Ordinal);

    /// <summary>Significant digits kept in target and stop (at most 12 decimals; the entry is the candle close as is).</summary>
    public int PriceSignificantDigits { get; set; } = 8;

    internal static readonly string[] DefaultAgreementFamilies = ["lstm", "patchtst"];

    /// <summary>Lower-case agreement families, defaulted and de-duplicated.</summary>
    public IReadOnlyList<string> ResolvedAgreementFamilies() =>
        (AgreementFamilies.Count == 0 ? DefaultAgreementFamilies : AgreementFamilies.Select(f => f.Trim().ToLowerInvariant()))
        .Distinct(StringComparer.Ordinal).ToArray();

    /// <summary>Problems a person can fix, one message each; empty when valid.</summary>
    public IEnumerable<string> Validate()
    {
        if (!(MinVoteMargin is >= 0 and <= 1))
        {
            yield return $"Signals:MinVoteMargin is {MinVoteMargin}; use a value between 0 and 1 (default 0.15).";
        }

        if (!(MinVoteScore is >= 0 and <= 1))
        {
            yield return $"Signals:MinVoteScore is {MinVoteScore}; use a value between 0 and 1 (default 0.65).";
        }

        foreach (var family in ResolvedAgreementFamilies())
        {
            if (family.Length == 0)
            {
                yield return "Signals:AgreementFamilies has an empty entry; list family names such as 'lstm' and 'patchtst'.";
            }
        }

        foreach (var (family, weight) in FamilyWeights)
        {
            if (!(weight >= 0) || double.IsInfinity(weight))
            {
                yield return $"Signals:FamilyWeights:{family} is {weight}; use a finite weight of 0 or more.";
            }
        }

        if (FamilyWeights.Values.Sum() <= 0)
        {
            yield return "Signals:FamilyWeights must have at least one positive weight (defaults: lstm 0.60, patchtst 0.40).";
        }

        var anchors = 0;
        foreach (var (name, weight) in TimeframeWeights)
        {
            if (!Timeframes.TryParse(name.AsSpan(), out _))
            {
                yield return $"Signals:TimeframeWeights: '{name}' is not a Binance interval name (valid, case-sensitive: {string.Join(", ", Timeframes.Names)}).";
            }
            else if (!(weight > 0) || double.IsInfinity(weight))
            {
                yield return $"Signals:TimeframeWeights:{name} is {weight}; use a finite weight above 0.";
            }
            else
            {
                anchors++;
            }
        }

        if (anchors == 0)
        {
            yield return "Signals:TimeframeWeights needs at least one valid entry (defaults: 15m 0.15, 30m 0.20, 1h 0.30, 4h 0.35).";
        }

        if (!(FusionBaseDirectional is >= 0 and <= 100) || !(FusionBaseHold is >= 0 and <= 100))
        {
            yield return $"Signals:FusionBaseDirectional ({FusionBaseDirectional}) and Signals:FusionBaseHold ({FusionBaseHold}) must be between 0 and 100.";
        }

        if (!(FusionBoostScale is >= 0 and <= 100))
        {
            yield return $"Signals:FusionBoostScale is {FusionBoostScale}; use a value between 0 and 100 (default 50).";
        }

        if (FusionStaleCandles < 1)
        {
            yield return $"Signals:FusionStaleCandles is {FusionStaleCandles}; use 1 or more (default 2).";
        }

        if (!(TargetAtrBase >= 0) || !(TargetAtrConfidence >= 0) || TargetAtrBase + TargetAtrConfidence <= 0
            || double.IsInfinity(TargetAtrBase + TargetAtrConfidence))
        {
            yield return $"Signals:TargetAtrBase ({TargetAtrBase}) and Signals:TargetAtrConfidence ({TargetAtrConfidence}) must be finite, 0 or more, and not both 0 (defaults 1.5 and 1.5).";
        }

        // The stop multiplier falls with confidence; at confidence 100 it must still be positive or the stop would sit at
        // or beyond the entry.
        if (!(StopAtrConfidence >= 0) || !(StopAtrBase - StopAtrConfidence > 0) || double.IsInfinity(StopAtrBase))
        {
            yield return $"Signals:StopAtrBase ({StopAtrBase}) must be finite and greater than Signals:StopAtrConfidence ({StopAtrConfidence}) >= 0, so the stop stays on the losing side of the entry (defaults 1.5 and 0.7).";
        }

        if (!(MinRiskReward > 0) || double.IsInfinity(MinRiskReward))
        {
            yield return $"Signals:MinRiskReward is {MinRiskReward}; use a finite value above 0 (default 1.2).";
        }

        if (ExpiryCandles < 1)
        {
            yield return $"Signals:ExpiryCandles is {ExpiryCandles}; use 1 or more (default 12).";
        }

        foreach (var (name, candles) in ExpiryCandlesByTimeframe)
        {
            if (!Timeframes.TryParse(name.AsSpan(), out _))
            {
                yield return $"Signals:ExpiryCandlesByTimeframe: '{name}' is not a Binance interval name (valid, case-sensitive: {string.Join(", ", Timeframes.Names)}).";
            }
            else if (candles < 1)
            {
                yield return $"Signals:ExpiryCandlesByTimeframe:{name} is {candles}; use 1 or more.";
            }
        }

        if (PriceSignificantDigits is < 4 or > 16)
        {
            yield return $"Signals:PriceSignificantDigits is {PriceSignificantDigits}; use 4 to 16 (default 8).";
        }
    }
}
