using SignalStream.Contracts;
using SignalStream.Engine.Inference;

namespace SignalStream.Engine.Signals.Internal;

/// <summary>A model's (or a weighted group's) own direction: the argmax of its class probabilities.</summary>
internal enum VoteDirection : byte
{
    Flat,
    Long,
    Short,
}

/// <summary>Class probabilities as doubles: P(down), P(flat), P(up).</summary>
internal readonly record struct Probabilities3(double Down, double Flat, double Up)
{
    /// <summary>The argmax; a tie goes to flat (no trade), the conservative reading.</summary>
    public VoteDirection Argmax() =>
        Up > Down && Up > Flat ? VoteDirection.Long
        : Down > Up && Down > Flat ? VoteDirection.Short
        : VoteDirection.Flat;

    /// <summary>The probability of <paramref name="direction"/>: P(up) for long, P(down) for short, P(flat) for flat.</summary>
    public double Of(VoteDirection direction) => direction switch
    {
        VoteDirection.Long => Up,
        VoteDirection.Short => Down,
        _ => Flat,
    };

    public static Probabilities3 From(ModelPrediction p) => new(p.Down, p.Flat, p.Up);
}

/// <summary>How the ensemble vote and the family agreement came out.</summary>
internal enum VoteVerdict : byte
{
    Directional,
    NoModels,
    VoteMargin,
    VoteScore,
    MissingFamily,
    Divergent,
}

/// <summary>The ensemble vote (SignalStack) and the family agreement rule (FusionTrade).</summary>
internal static class EnsembleVoting
{
    /// <summary>
    /// Σ wᵢ·Pᵢ with wᵢ = weightᵢ / Σ weight over the given models; equal weights when no model has a positive weight.
    /// long = the combined P(up), short = the combined P(down).
    /// </summary>
    public static Probabilities3 Combine(ReadOnlySpan<ModelPrediction> models)
    {
        double total = 0;
        foreach (var m in models)
        {
            total += m.Weight > 0 ? m.Weight : 0;
        }

        double down = 0, flat = 0, up = 0;
        foreach (var m in models)
        {
            var w = total > 0 ? (m.Weight > 0 ? m.Weight / total : 0) : 1.0 / models.Length;
            down += w * m.Down;
            flat += w * m.Flat;
            up += w * m.Up;
        }

        return new(down, flat, up);
    }

    /// <summary>The weighted probabilities of one family's models; <c>false</c> when the family has none among <paramref name="models"/>.</summary>
    public static bool TryCombineFamily(ReadOnlySpan<ModelPrediction> models, string family, out Probabilities3 probabilities)
    {
        double total = 0;
        var count = 0;
        foreach (var m in models)
        {
            if (string.Equals(m.Family, family, StringComparison.OrdinalIgnoreCase))
            {
                total += m.Weight > 0 ? m.Weight : 0;
                count++;
            }
        }

        if (count == 0)
        {
            probabilities = default;
            return false;
        }

        double down = 0, flat = 0, up = 0;
        foreach (var m in models)
        {
            if (!string.Equals(m.Family, family, StringComparison.OrdinalIgnoreCase))
            {
                continue;
            }

            var w = total > 0 ? (m.Weight > 0 ? m.Weight / total : 0) : 1.0 / count;
            down += w * m.Down;
            flat += w * m.Flat;
            up += w * m.Up;
        }

        probabilities = new(down, flat, up);
        return true;
    }

    /// <summary>
    /// The SignalStack thresholds: no signal when |long − short| &lt; MinVoteMargin or max(long, short) &lt; MinVoteScore
    /// (exactly at a threshold passes); otherwise the larger side wins.
    /// </summary>
    public static VoteVerdict Decide(Probabilities3 vote, SignalRules rules, out SignalDirection direction)
    {
        direction = vote.Up >= vote.Down ? SignalDirection.Long : SignalDirection.Short;
        if (Math.Abs(vote.Up - vote.Down) < rules.MinVoteMargin - SignalRules.ThresholdTolerance || vote.Up == vote.Down)
        {
            return VoteVerdict.VoteMargin;
        }

        return Math.Max(vote.Up, vote.Down) < rules.MinVoteScore - SignalRules.ThresholdTolerance
            ? VoteVerdict.VoteScore
            : VoteVerdict.Directional;
    }

    /// <summary>
    /// Every agreement family present must vote <paramref name="direction"/> (a family's vote is the argmax of its
    /// weighted probabilities). With <see cref="SignalRules.RequireFamilyAgreement"/> every family must also be
    /// present; without it, at least one must be.
    /// </summary>
    public static VoteVerdict Agreement(ReadOnlySpan<ModelPrediction> models, SignalDirection direction, SignalRules rules)
    {
        var wanted = direction == SignalDirection.Long ? VoteDirection.Long : VoteDirection.Short;
        var present = 0;
        var divergent = false;
        foreach (var family in rules.AgreementFamilies)
        {
            if (!TryCombineFamily(models, family, out var p))
            {
                if (rules.RequireFamilyAgreement)
                {
                    return VoteVerdict.MissingFamily;
                }

                continue;
            }

            present++;
            divergent |= p.Argmax() != wanted;
        }

        return divergent ? VoteVerdict.Divergent
            : present == 0 ? VoteVerdict.MissingFamily
            : VoteVerdict.Directional;
    }
}
