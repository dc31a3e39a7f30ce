using SignalStream.Contracts;
using SignalStream.Engine.Signals.Internal;
using static SignalStream.Engine.Tests.Signals.SignalTestData;

namespace SignalStream.Engine.Tests.Signals;

public class OutcomeRulesTests
{
    private const long Hour = 3_600_000L;

    [Fact]
    public void ExpiryIsTwelveCandlesAfterTheCloseByDefault()
    {
        var rules = Rules();
        Assert.Equal(12 * Hour, rules.ExpiryMilliseconds(Timeframe.OneHour));
        Assert.Equal(12 * 60_000L, rules.ExpiryMilliseconds(Timeframe.OneMinute));
    }

    [Fact]
    public void ExpiryCanBeSetPerTimeframe()
    {
        var rules = Rules(o => { o.ExpiryCandles = 6; o.ExpiryCandlesByTimeframe["1m"] = 30; });
        Assert.Equal(30 * 60_000L, rules.ExpiryMilliseconds(Timeframe.OneMinute));
        Assert.Equal(6 * Hour, rules.ExpiryMilliseconds(Timeframe.OneHour));
    }

    [Fact]
    public void TargetReachedFirstIsAWinAtTheRewardOverRisk()
    {
        var signal = LongSignal();
        Assert.True(OutcomeRules.TryResolve(signal, false, Nth(Timeframe.OneHour, 3, 104m, high: 106m, low: 101m), 99, out var outcome));
        Assert.Equal(OutcomeKind.Win, outcome!.Outcome);
        Assert.Equal(105.4m, outcome.ExitPrice);
        Assert.Equal(2.8723, outcome.RMultiple, 4); // 5.4 / 1.88
        Assert.Equal(Nth(Timeframe.OneHour, 3, 0m).OpenTime, outcome.ResolvedCandleOpenTime);
        Assert.Equal(99, outcome.ResolvedAt);
        Assert.Equal(signal.Seq, outcome.SignalSeq);
        Assert.Contains("target 105.4 reached", outcome.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void StopReachedFirstIsALossOfOneR()
    {
        Assert.True(OutcomeRules.TryResolve(LongSignal(), false, Nth(Timeframe.OneHour, 1, 99m, high: 101m, low: 98m), 0, out var outcome));
        Assert.Equal(OutcomeKind.Loss, outcome!.Outcome);
        Assert.Equal(98.12m, outcome.ExitPrice);
        Assert.Equal(-1, outcome.RMultiple);
    }

    [Fact]
    public void TargetAndStopInsideOneCandleResolveConservativelyAsALossAndSayWhy()
    {
        Assert.True(OutcomeRules.TryResolve(LongSignal(), true, Nth(Timeframe.OneHour, 1, 100m, high: 106m, low: 97m), 0, out var outcome));
        Assert.Equal(OutcomeKind.Loss, outcome!.Outcome);
        Assert.Equal(-1, outcome.RMultiple);
        Assert.True(outcome.IsShadow);
        Assert.Contains("both inside", outcome.Reason, StringComparison.Ordinal);
        Assert.Contains("order within a candle is unknown", outcome.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void ShortSignalsAreMirrored()
    {
        var signal = LongSignal() with { Direction = SignalDirection.Short, Target = 94.6m, Stop = 101.88m };
        Assert.True(OutcomeRules.TryResolve(signal, false, Nth(Timeframe.OneHour, 1, 95m, high: 99m, low: 94m), 0, out var win));
        Assert.Equal(OutcomeKind.Win, win!.Outcome);
        Assert.Equal(2.8723, win.RMultiple, 4);
        Assert.True(OutcomeRules.TryResolve(signal, false, Nth(Timeframe.OneHour, 1, 101m, high: 102m, low: 99m), 0, out var loss));
        Assert.Equal(OutcomeKind.Loss, loss!.Outcome);
    }

    [Fact]
    public void ACandleInsideTheLevelsBeforeExpiryResolvesNothing()
    {
        Assert.False(OutcomeRules.TryResolve(LongSignal(), false, Nth(Timeframe.OneHour, 11, 103m, high: 105m, low: 99m), 0, out _));
    }

    [Fact]
    public void ACandleThatResolvesNothingAllocatesNothing()
    {
        // Every open signal is checked against every closed candle of its stream, most of them resolving nothing: that
        // check runs thousands of times in a closing bell and must not build the outcome's reason.
        var signal = LongSignal();
        var candle = Nth(Timeframe.OneHour, 11, 103m, high: 105m, low: 99m);
        Assert.False(OutcomeRules.TryResolve(signal, false, candle, 0, out _));

        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < 100; i++)
        {
            OutcomeRules.TryResolve(signal, false, candle, 0, out _);
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }

    [Fact]
    public void TheSignalsOwnCandleNeverResolvesIt()
    {
        Assert.False(OutcomeRules.TryResolve(LongSignal(), false, Nth(Timeframe.OneHour, 0, 100m, high: 200m, low: 1m), 0, out _));
    }

    [Fact]
    public void TheTwelfthCandleExpiresTheSignalAtItsCloseWithTheSignedR()
    {
        // Signal on candle 0 (closes 01:00), expires 12 h later = the close of candle 12. Exit 101: R = 1 / 1.88.
        Assert.True(OutcomeRules.TryResolve(LongSignal(), false, Nth(Timeframe.OneHour, 12, 101m, high: 102m, low: 99m), 0, out var outcome));
        Assert.Equal(OutcomeKind.Expired, outcome!.Outcome);
        Assert.Equal(101m, outcome.ExitPrice);
        Assert.Equal(0.5319, outcome.RMultiple, 4);

        var shortSignal = LongSignal() with { Direction = SignalDirection.Short, Target = 94.6m, Stop = 101.88m };
        Assert.True(OutcomeRules.TryResolve(shortSignal, false, Nth(Timeframe.OneHour, 12, 101m, high: 101.5m, low: 99m), 0, out var shortOutcome));
        Assert.Equal(OutcomeKind.Expired, shortOutcome!.Outcome);
        Assert.Equal(-0.5319, shortOutcome.RMultiple, 4);
    }

    [Fact]
    public void ALevelReachedOnTheExpiryCandleStillCounts()
    {
        Assert.True(OutcomeRules.TryResolve(LongSignal(), false, Nth(Timeframe.OneHour, 12, 105m, high: 106m, low: 99m), 0, out var outcome));
        Assert.Equal(OutcomeKind.Win, outcome!.Outcome);
    }

    /// <summary>The levels of <see cref="RiskLevelsTests.LongLevelsFollowTheSignalStackFormula"/> on candle 0 of 1h.</summary>
    internal static Signal LongSignal()
    {
        var candle = Nth(Timeframe.OneHour, 0, 100m);
        return new Signal
        {
            Id = "BTCUSDT-1h-" + candle.OpenTime,
            Seq = 7,
            Symbol = "BTCUSDT",
            Timeframe = Timeframe.OneHour,
            Direction = SignalDirection.Long,
            Confidence = 80,
            Probabilities = new ClassProbabilities(0.1, 0.1, 0.8),
            Entry = 100m,
            Target = 105.4m,
            Stop = 98.12m,
            RiskReward = 2.8723,
            FusionScore = 90,
            Models = [new ModelVote("lstm-direction", "1", "lstm", "long", 0.6, new ClassProbabilities(0.1, 0.1, 0.8))],
            Rationale = [],
            CandleOpenTime = candle.OpenTime,
            CandleCloseTime = candle.CloseTime,
            CreatedAt = 0,
            ExpiresAt = candle.CloseTime + (12 * Hour),
            ExchangeTime = 0,
            ReceivedAt = 0,
        };
    }
}
