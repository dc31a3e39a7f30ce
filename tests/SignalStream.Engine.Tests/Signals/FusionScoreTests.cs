using SignalStream.Contracts;
using SignalStream.Engine.Inference;
using SignalStream.Engine.Signals.Internal;
using static SignalStream.Engine.Tests.Signals.SignalTestData;

namespace SignalStream.Engine.Tests.Signals;

public class FusionScoreTests
{
    private static readonly SignalRules Defaults = Rules();

    [Fact]
    public void DefaultTimeframeWeightsAreTheFusionTradeOnes()
    {
        Assert.Equal(0.15, Defaults.TimeframeWeight(Timeframe.FifteenMinutes), 10);
        Assert.Equal(0.20, Defaults.TimeframeWeight(Timeframe.ThirtyMinutes), 10);
        Assert.Equal(0.30, Defaults.TimeframeWeight(Timeframe.OneHour), 10);
        Assert.Equal(0.35, Defaults.TimeframeWeight(Timeframe.FourHours), 10);
    }

    [Fact]
    public void OtherTimeframeWeightsFollowTheDocumentedFormula()
    {
        // Below 15m: proportional to duration (0.15 · d / 15m).
        Assert.Equal(0.01, Defaults.TimeframeWeight(Timeframe.OneMinute), 10);
        Assert.Equal(0.05, Defaults.TimeframeWeight(Timeframe.FiveMinutes), 10);

        // 2h lies halfway between 1h and 4h in log(duration): 0.30 + 0.05 · 0.5.
        Assert.Equal(0.325, Defaults.TimeframeWeight(Timeframe.TwoHours), 10);

        // Above 4h: the 4h weight.
        Assert.Equal(0.35, Defaults.TimeframeWeight(Timeframe.OneDay), 10);
    }

    [Fact]
    public void OneTimeframeWhereBothFamiliesAgreeScoresBasePlusTheWeightedConfidence()
    {
        // 55 + 50 · (0.6 · 0.8 · 1 + 0.4 · 0.7 · 1) = 55 + 50 · 0.76 = 93.
        var score = Score(VoteDirection.Long, Timeframe.OneHour, (Timeframe.OneHour, [Lstm(0.1, 0.1, 0.8), PatchTst(0.1, 0.2, 0.7)]));
        Assert.Equal(93.0, score);
    }

    [Fact]
    public void WorkedExampleAcrossTwoTimeframesMatchesTheDocs()
    {
        // docs/signals.md: 1h both long (0.80, 0.70), 4h LSTM long 0.60 and PatchTST flat (up 0.30).
        // ŵ(1h) = 0.30/0.65, ŵ(4h) = 0.35/0.65; 1h: 0.30·(0.6·0.8 + 0.4·0.7)·1 = 0.228; 4h: 0.35·(0.6·0.6 + 0.4·0.3)·0.5 = 0.084.
        // 55 + 50 · (0.228 + 0.084) / 0.65 = 55 + 24 = 79.
        var score = Score(
            VoteDirection.Long,
            Timeframe.OneHour,
            (Timeframe.OneHour, [Lstm(0.1, 0.1, 0.8), PatchTst(0.1, 0.2, 0.7)]),
            (Timeframe.FourHours, [Lstm(0.2, 0.2, 0.6), PatchTst(0.2, 0.5, 0.3)]));
        Assert.Equal(79.0, score);
    }

    [Fact]
    public void AnOpposingTimeframeDragsTheScoreDown()
    {
        // 4h votes short in both families: agreement 0, so it only adds weight: 55 + 50 · 0.228 / 0.65 = 72.5 (rounded to 0.1).
        var score = Score(
            VoteDirection.Long,
            Timeframe.OneHour,
            (Timeframe.OneHour, [Lstm(0.1, 0.1, 0.8), PatchTst(0.1, 0.2, 0.7)]),
            (Timeframe.FourHours, [Lstm(0.7, 0.2, 0.1), PatchTst(0.6, 0.2, 0.2)]));
        Assert.Equal(72.5, score);
    }

    [Fact]
    public void HoldStartsFromTheHoldBase()
    {
        // 30 + 50 · (0.6 · 0.5 + 0.4 · 0.6) = 30 + 27 = 57.
        var score = Score(VoteDirection.Flat, Timeframe.OneHour, (Timeframe.OneHour, [Lstm(0.2, 0.5, 0.3), PatchTst(0.2, 0.6, 0.2)]));
        Assert.Equal(57.0, score);
    }

    [Fact]
    public void AMissingFamilyHalvesAgreementAndAddsNothingOfItsOwn()
    {
        // 55 + 50 · (0.6 · 0.8 · 0.5) = 67.
        var score = Score(VoteDirection.Long, Timeframe.OneHour, (Timeframe.OneHour, [Lstm(0.1, 0.1, 0.8)]));
        Assert.Equal(67.0, score);
    }

    [Fact]
    public void AStaleTimeframeIsLeftOut()
    {
        var rules = Defaults;
        var views = new TimeframeView?[Timeframes.All.Count];
        var fourHours = new TimeframeView(rules.FusionFamilies.Length);
        var fourHourCandle = Nth(Timeframe.FourHours, 0, 100m);
        fourHours.Set([Lstm(0.7, 0.2, 0.1), PatchTst(0.6, 0.2, 0.2)], fourHourCandle.CloseTime, rules);
        views[(int)Timeframe.FourHours] = fourHours;

        var current = new TimeframeView(rules.FusionFamilies.Length);
        ModelPrediction[] models = [Lstm(0.1, 0.1, 0.8), PatchTst(0.1, 0.2, 0.7)];

        // Two 4h candles (8h) after its close the 4h view still counts; one hour later it no longer does.
        var fresh = fourHourCandle.CloseTime + (8 * 3_600_000L);
        current.Set(models, fresh, rules);
        var withFourHours = FusionScore.Compute(VoteDirection.Long, views, Timeframe.OneHour, current, fresh, rules, out var used);
        Assert.NotEqual(0, used & (1 << (int)Timeframe.FourHours));
        Assert.Equal(72.5, withFourHours);

        var stale = fresh + 3_600_000L;
        current.Set(models, stale, rules);
        var alone = FusionScore.Compute(VoteDirection.Long, views, Timeframe.OneHour, current, stale, rules, out used);
        Assert.Equal(1 << (int)Timeframe.OneHour, used);
        Assert.Equal(93.0, alone);
    }

    [Fact]
    public void TheScoreIsClampedTo100()
    {
        var rules = Rules(o => o.FusionBaseDirectional = 90);
        var views = new TimeframeView?[Timeframes.All.Count];
        var current = new TimeframeView(rules.FusionFamilies.Length);
        current.Set([Lstm(0, 0, 1), PatchTst(0, 0, 1)], 0, rules);
        Assert.Equal(100.0, FusionScore.Compute(VoteDirection.Long, views, Timeframe.OneHour, current, 0, rules, out _));
    }

    private static double Score(VoteDirection verdict, Timeframe current, params (Timeframe Timeframe, ModelPrediction[] Models)[] timeframes)
    {
        var rules = Defaults;
        var views = new TimeframeView?[Timeframes.All.Count];
        TimeframeView? currentView = null;
        const long now = T0 + (10 * 3_600_000L) - 1;
        foreach (var (tf, models) in timeframes)
        {
            var view = new TimeframeView(rules.FusionFamilies.Length);
            view.Set(models, now, rules);
            views[(int)tf] = view;
            if (tf == current)
            {
                currentView = view;
            }
        }

        return FusionScore.Compute(verdict, views, current, currentView!, now, rules, out _);
    }
}
