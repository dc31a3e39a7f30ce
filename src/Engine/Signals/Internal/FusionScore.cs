using SignalStream.Contracts;
using SignalStream.Engine.Inference;

namespace SignalStream.Engine.Signals.Internal;

/// <summary>The latest prediction of one timeframe of a symbol, per fusion family (reused in place: no allocation per candle).</summary>
internal sealed class TimeframeView
{
    public TimeframeView(int families)
    {
        Families = new Probabilities3[families];
        Present = new bool[families];
    }

    public Probabilities3[] Families { get; }

    public bool[] Present { get; }

    public long CandleCloseTime { get; private set; }

    public bool HasValue { get; private set; }

    public void Set(ReadOnlySpan<ModelPrediction> models, long candleCloseTime, SignalRules rules)
    {
        var any = false;
        for (var i = 0; i < rules.FusionFamilies.Length; i++)
        {
            Present[i] = EnsembleVoting.TryCombineFamily(models, rules.FusionFamilies[i], out Families[i]);
            any |= Present[i];
        }

        CandleCloseTime = candleCloseTime;
        HasValue = any;
    }

    /// <summary>Becomes a copy of <paramref name="other"/> (no value when it is null).</summary>
    public void CopyFrom(TimeframeView? other)
    {
        if (other is null)
        {
            HasValue = false;
            return;
        }

        other.Families.CopyTo(Families, 0);
        other.Present.CopyTo(Present, 0);
        CandleCloseTime = other.CandleCloseTime;
        HasValue = other.HasValue;
    }
}

/// <summary>The FusionTrade fusion score (0–100) across the timeframes of one symbol.</summary>
internal static class FusionScore
{
    /// <summary>
    /// score = base + scale · Σ_tf Σ_f ŵ_tf · m_f · P_{tf,f}(verdict) · a_tf, clamped to [0, 100] and rounded to 0.1.
    /// base: directional or hold; ŵ_tf: timeframe weights normalised over the timeframes that take part (the current
    /// one and every other whose latest prediction is at most FusionStaleCandles of its candles old); m_f: family
    /// weights (normalised); P_{tf,f}(verdict): the family's probability of the verdict (P(up) long, P(down) short,
    /// P(flat) hold); a_tf: the share of fusion families whose vote at tf equals the verdict (1, 0.5 or 0 with two).
    /// </summary>
    /// <param name="verdict">Long, short, or flat for hold.</param>
    /// <param name="views">The symbol's latest view per timeframe, indexed by <see cref="Timeframe"/>.</param>
    /// <param name="current">The timeframe being decided; <paramref name="currentView"/> stands in for its entry in <paramref name="views"/>.</param>
    /// <param name="timeframesUsed">Bit i set when timeframe i took part.</param>
    public static double Compute(
        VoteDirection verdict,
        ReadOnlySpan<TimeframeView?> views,
        Timeframe current,
        TimeframeView currentView,
        long currentCloseTime,
        SignalRules rules,
        out int timeframesUsed)
    {
        timeframesUsed = 0;
        double weightSum = 0, raw = 0;
        var familyCount = rules.FusionFamilies.Length;
        for (var i = 0; i < views.Length; i++)
        {
            var tf = (Timeframe)i;
            var view = tf == current ? currentView : views[i];
            if (view is null || !view.HasValue)
            {
                continue;
            }

            if (tf != current)
            {
                var staleAfter = view.CandleCloseTime + rules.FusionStaleCandles * (long)tf.NominalDuration().TotalMilliseconds;
                if (staleAfter < currentCloseTime)
                {
                    continue;
                }
            }

            var weight = rules.TimeframeWeight(tf);
            weightSum += weight;
            timeframesUsed |= 1 << i;

            var agreeing = 0;
            for (var f = 0; f < familyCount; f++)
            {
                if (view.Present[f] && view.Families[f].Argmax() == verdict)
                {
                    agreeing++;
                }
            }

            var agreement = (double)agreeing / familyCount;
            for (var f = 0; f < familyCount; f++)
            {
                if (view.Present[f])
                {
                    raw += weight * rules.FusionFamilyWeights[f] * view.Families[f].Of(verdict) * agreement;
                }
            }
        }

        var score = verdict == VoteDirection.Flat ? rules.FusionBaseHold : rules.FusionBaseDirectional;
        if (weightSum > 0)
        {
            score += rules.FusionBoostScale * raw / weightSum;
        }

        return Math.Round(Math.Clamp(score, 0, 100), 1, MidpointRounding.AwayFromZero);
    }
}
