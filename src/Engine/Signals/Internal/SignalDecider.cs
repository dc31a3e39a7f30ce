using System.Globalization;
using SignalStream.Contracts;
using SignalStream.Engine.Features;
using SignalStream.Engine.Inference;

namespace SignalStream.Engine.Signals.Internal;

/// <summary>Why a closed candle gave no signal (<see cref="Signal"/> when it gave one).</summary>
internal enum DecisionResult : byte
{
    Signal,
    NoModels,
    VoteMargin,
    VoteScore,
    MissingFamily,
    Divergent,
    NoVolatility,
    LevelsCollapsed,
    RiskReward,
}

/// <summary>
/// The decision for one set of models at one closed candle: ensemble vote → family agreement → risk levels → fusion
/// score → a <see cref="Signal"/> without id and seq (the stage sets both when it publishes). Pure: no state, no clock.
/// </summary>
internal sealed class SignalDecider(SignalRules rules)
{
    public SignalRules Rules => rules;

    public DecisionResult Decide(
        ReadOnlySpan<ModelPrediction> models,
        ClosedCandleResult result,
        ReadOnlySpan<TimeframeView?> views,
        TimeframeView currentView,
        long createdAt,
        out Signal? signal)
    {
        signal = null;
        if (models.Length == 0)
        {
            return DecisionResult.NoModels;
        }

        var vote = EnsembleVoting.Combine(models);
        var verdict = EnsembleVoting.Decide(vote, rules, out var direction);
        if (verdict == VoteVerdict.Directional)
        {
            verdict = EnsembleVoting.Agreement(models, direction, rules);
        }

        switch (verdict)
        {
            case VoteVerdict.VoteMargin:
                return DecisionResult.VoteMargin;
            case VoteVerdict.VoteScore:
                return DecisionResult.VoteScore;
            case VoteVerdict.MissingFamily:
                return DecisionResult.MissingFamily;
            case VoteVerdict.Divergent:
                return DecisionResult.Divergent;
        }

        var confidence = Math.Round(100 * Math.Max(vote.Up, vote.Down), 2, MidpointRounding.AwayFromZero);
        var candle = result.Update.Candle;
        var risk = RiskLevels.TryCompute(direction, candle.Close, result.Indicators.Atr14, confidence, rules, out var levels);
        switch (risk)
        {
            case RiskVerdict.NoVolatility:
                return DecisionResult.NoVolatility;
            case RiskVerdict.LevelsCollapsed:
                return DecisionResult.LevelsCollapsed;
            case RiskVerdict.RiskReward:
                return DecisionResult.RiskReward;
        }

        var wanted = direction == SignalDirection.Long ? VoteDirection.Long : VoteDirection.Short;
        var fusion = FusionScore.Compute(wanted, views, candle.Timeframe, currentView, candle.CloseTime, rules, out var used);
        var votes = new ModelVote[models.Length];
        double totalWeight = 0;
        foreach (var m in models)
        {
            totalWeight += m.Weight > 0 ? m.Weight : 0;
        }

        for (var i = 0; i < models.Length; i++)
        {
            var m = models[i];
            var weight = totalWeight > 0 ? (m.Weight > 0 ? m.Weight / totalWeight : 0) : 1.0 / models.Length;
            votes[i] = new ModelVote(
                m.Model, m.Version, m.Family, VoteName(Probabilities3.From(m).Argmax()), weight, new ClassProbabilities(m.Down, m.Flat, m.Up))
            {
                IsShadow = m.IsShadow,
            };
        }

        signal = new Signal
        {
            Id = string.Empty,
            Seq = 0,
            Symbol = candle.Symbol,
            Timeframe = candle.Timeframe,
            Direction = direction,
            Confidence = confidence,
            Probabilities = new ClassProbabilities(vote.Down, vote.Flat, vote.Up),
            Entry = levels.Entry,
            Target = levels.Target,
            Stop = levels.Stop,
            RiskReward = levels.RiskReward,
            FusionScore = fusion,
            Models = votes,
            Rationale = Rationale(models, direction, vote, confidence, fusion, used, levels, result.Indicators, candle.Timeframe),
            CandleOpenTime = candle.OpenTime,
            CandleCloseTime = candle.CloseTime,
            CreatedAt = createdAt,
            ExpiresAt = candle.CloseTime + rules.ExpiryMilliseconds(candle.Timeframe),
            ExchangeTime = result.Update.EventTime,
            ReceivedAt = result.Update.ReceivedAt,
        };
        return DecisionResult.Signal;
    }

    internal static string VoteName(VoteDirection vote) => vote switch
    {
        VoteDirection.Long => "long",
        VoteDirection.Short => "short",
        _ => "flat",
    };

    internal static string FamilyDisplayName(string family) => family.ToLowerInvariant() switch
    {
        "lstm" => "LSTM",
        "patchtst" => "PatchTST",
        _ => family,
    };

    private string[] Rationale(
        ReadOnlySpan<ModelPrediction> models,
        SignalDirection direction,
        Probabilities3 vote,
        double confidence,
        double fusion,
        int timeframesUsed,
        RiskLevels levels,
        IndicatorSnapshot indicators,
        Timeframe timeframe)
    {
        var ic = CultureInfo.InvariantCulture;
        var side = direction == SignalDirection.Long ? "long" : "short";
        var tf = timeframe.ToName();
        var lines = new List<string>(6);

        var present = new List<string>(rules.AgreementFamilies.Length);
        foreach (var family in rules.AgreementFamilies)
        {
            if (EnsembleVoting.TryCombineFamily(models, family, out _))
            {
                present.Add(FamilyDisplayName(family));
            }
        }

        lines.Add(present.Count switch
        {
            0 => $"The ensemble votes {side} on {tf}",
            1 => $"{present[0]} votes {side} on {tf} (the only agreement family with a model)",
            2 => $"{present[0]} and {present[1]} agree {side} on {tf}",
            _ => $"{string.Join(", ", present.Take(present.Count - 1))} and {present[^1]} agree {side} on {tf}",
        });
        lines.Add(string.Format(ic, "Ensemble vote long {0:0.00} vs short {1:0.00} (confidence {2:0})", vote.Up, vote.Down, confidence));

        // TradingView votes (vote mode) took part in the ensemble vote: say whose and how heavy.
        double totalWeight = 0;
        foreach (var m in models)
        {
            totalWeight += m.Weight > 0 ? m.Weight : 0;
        }

        foreach (var m in models)
        {
            if (string.Equals(m.Family, SignalSources.TradingViewFamily, StringComparison.Ordinal))
            {
                lines.Add(string.Format(
                    ic, "{0} votes {1} (weight {2:0.##} of {3:0.##})", m.Model, VoteName(Probabilities3.From(m).Argmax()), m.Weight, totalWeight));
            }
        }

        var rsi = indicators.Rsi14;
        if (double.IsFinite(rsi) && rsi > 0)
        {
            var zone = rsi <= 30 ? " (oversold)" : rsi >= 70 ? " (overbought)" : string.Empty;
            lines.Add(string.Format(ic, "RSI {0:0}{1}", rsi, zone));
        }

        var macd = indicators.MacdHistogram;
        if (double.IsFinite(macd) && macd != 0)
        {
            var supports = macd > 0 == (direction == SignalDirection.Long);
            lines.Add($"MACD histogram {(macd > 0 ? "positive" : "negative")} ({(supports ? "supports" : "against")} the {side})");
        }

        var usedNames = new List<string>(4);
        for (var i = 0; i < Timeframes.All.Count; i++)
        {
            if ((timeframesUsed & (1 << i)) != 0)
            {
                usedNames.Add(((Timeframe)i).ToName());
            }
        }

        lines.Add(string.Format(ic, "Fusion {0:0} across {1}", fusion, string.Join(", ", usedNames)));

        var targetPct = (double)((levels.Target - levels.Entry) / levels.Entry) * 100;
        var stopPct = (double)((levels.Stop - levels.Entry) / levels.Entry) * 100;
        lines.Add(string.Format(
            ic, "ATR {0:0.0#}% → target {1}%, stop {2}% (R:R {3:0.00})", levels.AtrPercent * 100, Signed(targetPct), Signed(stopPct), levels.RiskReward));
        return lines.ToArray();
    }

    private static string Signed(double percent) =>
        (percent >= 0 ? "+" : "−") + Math.Abs(percent).ToString("0.0#", CultureInfo.InvariantCulture);
}
