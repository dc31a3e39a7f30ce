using Microsoft.Extensions.DependencyInjection;
using SignalStream.Contracts;
using SignalStream.Engine;
using SignalStream.Engine.Events;
using SignalStream.Engine.Inference;
using SignalStream.Engine.Journal;
using SignalStream.Engine.Signals;
using static SignalStream.Engine.Tests.Signals.SignalStageTests;
using static SignalStream.Engine.Tests.Signals.SignalTestData;

namespace SignalStream.Engine.Tests.Signals;

/// <summary>TradingView alerts in the signal stage: signal mode, vote mode, exits, rejections, learned weights, replay.</summary>
public class AlertIntakeTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);
    private static readonly Timeframe Tf = Timeframe.OneHour;

    // long = 0.6·0.9 + 0.4·0.7 = 0.82: a signal (target 105.46, stop 98.148 at entry 100, ATR 2).
    private static readonly ModelPrediction[] Strong = [Lstm(0.05, 0.05, 0.9), PatchTst(0.1, 0.2, 0.7)];

    // long = 0.6: below MinVoteScore 0.65, no signal on its own (both families still vote long).
    private static readonly ModelPrediction[] Weak = [Lstm(0.2, 0.2, 0.6), PatchTst(0.2, 0.2, 0.6)];

    [Fact]
    public async Task AnAlertSignalTakesTheNextSeqBetweenModelSignalsIsStoredFirstAndScoredUnderItsSource()
    {
        using var host = new StageHost();
        await host.Closed(Result(Nth(Tf, 1, 100m), 2.0, Strong));
        var published = Assert.IsType<AlertResult.Published>(await SubmitAsync(host, Alert(AlertAction.Long)));
        await host.Closed(Result(Nth(Tf, 2, 100m), 2.0, Strong));
        await host.Closed(Result(Nth(Tf, 3, 104m, high: 110m, low: 99m), 2.0, []));

        Assert.Equal([1L, 2L, 3L], host.Sink.Signals.Select(s => s.Seq));
        Assert.Equal(2, published.Seq);
        var signal = host.Sink.Signals[1];
        Assert.Equal(published.SignalId, signal.Id);
        Assert.Equal("tradingview:main", signal.Source);
        Assert.Equal([SignalSources.Ensemble, SignalSources.Ensemble], new[] { host.Sink.Signals[0], host.Sink.Signals[2] }.Select(s => s.Source));

        // Entry is the alert's price; no levels in the alert, so the ATR rules at confidence 70:
        // target = 100·(1 + 0.02·(1.5 + 1.5·0.7)) = 105.1, stop = 100·(1 − 0.02·(1.5 − 0.7·0.7)) = 97.98.
        Assert.Equal((100m, 105.1m, 97.98m, 2.5247, 70.0), (signal.Entry, signal.Target, signal.Stop, signal.RiskReward, signal.Confidence));
        Assert.Equal(Nth(Tf, 2, 0m).OpenTime, signal.CandleOpenTime); // the candle in progress when it arrived
        var vote = Assert.Single(signal.Models);
        Assert.Equal(("tradingview:main", "tradingview", "long", false), (vote.Name, vote.Family, vote.Vote, vote.IsShadow));
        Assert.StartsWith("TradingView alert from main (RSI dip): buy BTCUSDT at 100 on 1h", signal.Rationale[0]);

        // Stored before its signal, with the signal as decided (seq 0: the seq is the signals stream's version).
        var alert = Assert.Single(host.Sink.Alerts);
        Assert.Equal((0L, signal.Id, "signal", "buy"), (alert.Signal!.Seq, alert.Signal.Id, alert.Mode, alert.Action));
        Assert.Equal(Nth(Tf, 1, 0m).CloseTime, alert.MarketTime);
        var order = host.Sink.Order.ToList();
        Assert.True(order.IndexOf("alert:" + alert.Id.ToString("N")) < order.IndexOf("signal:" + signal.Id));

        var outcome = Assert.Single(host.Sink.Outcomes, o => o.SignalId == signal.Id);
        Assert.Equal((OutcomeKind.Win, "tradingview:main", 2L), (outcome.Outcome, outcome.Source, outcome.SignalSeq));

        var report = host.Services.GetRequiredService<IPerformanceReport>().GetReport();
        var source = Assert.Single(report.Groups, g => g is { Model: "tradingview:main", IsShadow: false, Symbol: "BTCUSDT", Timeframe: "1h" });
        Assert.Equal((1, 1, 0), (source.Signals, source.Wins, source.Losses));
        var ensemble = Assert.Single(report.Groups, g => g is { Model: "ensemble", Symbol: "BTCUSDT", Timeframe: "1h" });
        Assert.Equal(2, ensemble.Signals); // the models' two, not the alert's
        Assert.DoesNotContain(report.Groups, g => g is { Model: "tradingview:main", IsShadow: true });
    }

    [Fact]
    public async Task AVoteTipsTheEnsembleIntoASignalUntilItExpiresAndAnOpposingVoteVetoesOne()
    {
        using var host = new StageHost();

        // BTCUSDT: the weak models give nothing on their own…
        await host.Closed(Result(Nth(Tf, 1, 100m), 2.0, Weak));
        Assert.Empty(host.Sink.Signals);

        // …a long vote of weight 1 at confidence 90 makes it 0.3·0.6 + 0.2·0.6 + 0.5·0.9 = 0.75: a signal.
        var voted = Assert.IsType<AlertResult.Voted>(await SubmitAsync(host, Alert(AlertAction.Long, mode: AlertMode.Vote, weight: 1, confidence: 90)));
        Assert.Equal((1.0, Nth(Tf, 2, 0m).CloseTime), (voted.Weight, voted.ExpiresAt));
        await host.Closed(Result(Nth(Tf, 2, 100m), 2.0, Weak));
        var signal = Assert.Single(host.Sink.Signals);
        Assert.Equal((SignalDirection.Long, 75.0, SignalSources.Ensemble), (signal.Direction, signal.Confidence, signal.Source));
        Assert.Equal(["lstm-direction", "patchtst-direction", "tradingview:main"], signal.Models.Select(m => m.Name));
        Assert.Equal(0.5, signal.Models[2].Weight);
        Assert.Contains("tradingview:main votes long (weight 1 of 2)", signal.Rationale);

        // The vote counted up to its expiry (one hour of market time): the next candle is the models' alone again.
        await host.Closed(Result(Nth(Tf, 3, 100m), 2.0, Weak));
        Assert.Single(host.Sink.Signals);

        // ETHUSDT: the strong models would signal, but a short vote of weight 1 leaves long 0.435 against short 0.485: no signal…
        await host.Closed(Result(Nth(Tf, 1, 100m, symbol: "ETHUSDT"), 2.0, []));
        Assert.IsType<AlertResult.Voted>(await SubmitAsync(host, Alert(AlertAction.Short, symbol: "ETHUSDT", mode: AlertMode.Vote, weight: 1, confidence: 90)));
        await host.Closed(Result(Nth(Tf, 2, 100m, symbol: "ETHUSDT"), 2.0, Strong));

        // …while the same models on SOLUSDT, without a vote, do.
        await host.Closed(Result(Nth(Tf, 2, 100m, symbol: "SOLUSDT"), 2.0, Strong));
        Assert.Equal(["BTCUSDT", "SOLUSDT"], host.Sink.Signals.Select(s => s.Symbol));

        // A vote is also the source's own would-be signal, journaled like a shadow model's, never published.
        Assert.Equal(2, host.Sink.ShadowSignals.Count);
        Assert.All(host.Sink.ShadowSignals, s => Assert.Equal(("tradingview:main", 0L, true), (s.Source, s.Seq, s.Models.Single().IsShadow)));
        var report = host.Services.GetRequiredService<IPerformanceReport>().GetReport();
        Assert.Contains(report.Groups, g => g is { Model: "tradingview:main", IsShadow: true, Symbol: "*", Timeframe: "*", Signals: 2 });
        Assert.DoesNotContain(report.Groups, g => g is { Model: "tradingview:main", IsShadow: false });
    }

    [Fact]
    public async Task AVoteCountsOnlyFromTheFirstCandleClosingAfterItArrived()
    {
        using var host = new StageHost();
        await host.Closed(Result(Nth(Tf, 1, 100m), 2.0, Weak));
        await SubmitAsync(host, Alert(AlertAction.Long, mode: AlertMode.Vote, weight: 1, confidence: 90, voteExpiry: TimeSpan.FromHours(5)));

        // A late candle (closing no later than the vote's market time) is decided without it.
        await host.Closed(Result(Nth(Tf, 1, 100m), 2.0, Weak));
        Assert.Empty(host.Sink.Signals);
        await host.Closed(Result(Nth(Tf, 2, 100m), 2.0, Weak));
        Assert.Single(host.Sink.Signals);
    }

    [Fact]
    public async Task AlertsThatDoNotFitTheMarketAreRejectedNamingTheFieldAndLeaveNothingBehind()
    {
        using var host = new StageHost();
        Assert.IsType<AlertResult.NotReady>(await SubmitAsync(host, Alert(AlertAction.Long)));

        await host.Closed(Result(Nth(Tf, 1, 100m), 2.0, []));
        Assert.Equal("price", Rejected(await SubmitAsync(host, Alert(AlertAction.Long, price: 111m))));
        Assert.Equal("price", Rejected(await SubmitAsync(host, Alert(AlertAction.Exit, price: 89m))));
        Assert.Equal("stop", Rejected(await SubmitAsync(host, Alert(AlertAction.Long, stop: 101m, target: 110m))));
        Assert.Equal("target", Rejected(await SubmitAsync(host, Alert(AlertAction.Long, stop: 95m, target: 99m))));
        Assert.Equal("target", Rejected(await SubmitAsync(host, Alert(AlertAction.Short, stop: 105m, target: 101m))));
        Assert.Equal("stop", Rejected(await SubmitAsync(host, Alert(AlertAction.Short, stop: 99m, target: 90m))));
        Assert.Equal("stop", Rejected(await SubmitAsync(host, Alert(AlertAction.Long, mode: AlertMode.Vote, target: 104m, stop: 100m))));

        // Warming up (ATR 0): levels must come with the alert.
        await host.Closed(Result(Nth(Tf, 1, 100m, symbol: "ETHUSDT"), 0.0, []));
        Assert.Equal("target", Rejected(await SubmitAsync(host, Alert(AlertAction.Long, symbol: "ETHUSDT"))));
        Assert.Equal("stop", Rejected(await SubmitAsync(host, Alert(AlertAction.Long, symbol: "ETHUSDT", target: 110m))));

        Assert.Empty(host.Sink.Alerts);
        Assert.Empty(host.Sink.Signals);
        Assert.Empty(host.Sink.ShadowSignals);
        Assert.DoesNotContain(host.Services.GetRequiredService<IPerformanceReport>().GetReport().Groups, g => g.Model.StartsWith("tradingview:", StringComparison.Ordinal));

        // With levels, the warming stream takes it: the alert's own target and stop, as sent.
        var published = Assert.IsType<AlertResult.Published>(await SubmitAsync(host, Alert(AlertAction.Long, symbol: "ETHUSDT", stop: 95m, target: 110m)));
        Assert.Equal((1L, 110m, 95m), (published.Seq, published.Target, published.Stop));
        Assert.Equal(2.0, host.Sink.Signals.Single().RiskReward);
    }

    [Fact]
    public async Task AnExitClosesTheSourcesOpenSignalsAtTheExitPriceOnTheNextCandleAndLeavesTheModelsAlone()
    {
        using var host = new StageHost();
        await host.Closed(Result(Nth(Tf, 1, 100m), 2.0, Strong));
        await SubmitAsync(host, Alert(AlertAction.Long, stop: 95m, target: 110m));
        var exited = Assert.IsType<AlertResult.Exited>(await SubmitAsync(host, Alert(AlertAction.Exit, price: 102m)));
        Assert.Equal(1, exited.Closing);
        Assert.Null(host.Sink.Alerts[^1].Signal);

        await host.Closed(Result(Nth(Tf, 2, 101m, high: 103m, low: 99m), 2.0, []));
        var outcome = Assert.Single(host.Sink.Outcomes);
        Assert.Equal(("tradingview:main", OutcomeKind.Expired, 102m, 0.4), (outcome.Source, outcome.Outcome, outcome.ExitPrice, outcome.RMultiple));
        Assert.Contains("exit alert", outcome.Reason);

        // The models' signal of the same stream is not the source's to close.
        await host.Closed(Result(Nth(Tf, 3, 104m, high: 106m, low: 100m), 2.0, []));
        Assert.Equal([OutcomeKind.Expired, OutcomeKind.Win], host.Sink.Outcomes.Select(o => o.Outcome));
    }

    [Fact]
    public async Task AnExitOnACandleThatReachedTheStopIsScoredAsTheLoss()
    {
        using var host = new StageHost();
        await host.Closed(Result(Nth(Tf, 1, 100m), 2.0, []));
        await SubmitAsync(host, Alert(AlertAction.Long, stop: 95m, target: 110m));
        await host.Closed(Result(Nth(Tf, 2, 100m), 2.0, []));
        await SubmitAsync(host, Alert(AlertAction.Exit, price: 97m));
        await host.Closed(Result(Nth(Tf, 3, 96m, high: 100m, low: 94m), 2.0, []));
        var outcome = Assert.Single(host.Sink.Outcomes);
        Assert.Equal((OutcomeKind.Loss, 95m, -1.0), (outcome.Outcome, outcome.ExitPrice, outcome.RMultiple));
    }

    [Fact]
    public async Task ALearnedWeightScalesTheConfiguredWeightByTheSourcesProfitFactorOnceItHasARecord()
    {
        using var host = new StageHost();
        await host.Closed(Result(Nth(Tf, 1, 100m), 2.0, []));
        var learned = Alert(AlertAction.Long, mode: AlertMode.Vote, weight: 0.25, learn: true);
        Assert.Equal(0.25, Assert.IsType<AlertResult.Voted>(await SubmitAsync(host, learned)).Weight);
        Assert.Equal(0.25, Assert.IsType<AlertResult.Voted>(await SubmitAsync(host, learned with { Received = learned.Received with { Id = Guid.NewGuid() } })).Weight);
        await host.Closed(Result(Nth(Tf, 2, 100m), 2.0, []));
        await host.Closed(Result(Nth(Tf, 3, 104m, high: 110m, low: 99m), 2.0, []));
        Assert.Equal(2, host.Sink.Outcomes.Count(o => o.Outcome == OutcomeKind.Win));

        // Two wins of 2.5247 R, no loss: profit factor 5.05, clamped to MaxWeightFactor 2 → 0.5. Fixed stays 0.25.
        Assert.Equal(0.5, Assert.IsType<AlertResult.Voted>(await SubmitAsync(host, learned with { Received = learned.Received with { Id = Guid.NewGuid(), Price = 104m } })).Weight);
        Assert.Equal(0.25, Assert.IsType<AlertResult.Voted>(await SubmitAsync(host, Alert(AlertAction.Long, price: 104m, mode: AlertMode.Vote, weight: 0.25))).Weight);
    }

    [Fact]
    public async Task ReplayingTheStoredAlertsAheadOfTheCandlesGivesTheSignalsAndOutcomesLiveGave()
    {
        using var live = new StageHost();
        var steps = new Func<Task>[]
        {
            () => live.Closed(Result(Nth(Tf, 1, 100m), 2.0, Weak)),
            () => SubmitAsync(live, Alert(AlertAction.Long, mode: AlertMode.Vote, weight: 1, confidence: 90, voteExpiry: TimeSpan.FromHours(3), source: "tradingview:votes")),
            () => live.Closed(Result(Nth(Tf, 2, 100m), 2.0, Weak)),
            () => SubmitAsync(live, Alert(AlertAction.Short, source: "tradingview:calls")),
            () => live.Closed(Result(Nth(Tf, 3, 100m), 2.0, Weak)),
            () => SubmitAsync(live, Alert(AlertAction.Exit, mode: AlertMode.Vote, source: "tradingview:votes")),
            () => live.Closed(Result(Nth(Tf, 4, 100m), 2.0, Weak)),
            () => live.Closed(Result(Nth(Tf, 5, 101m, high: 106m, low: 96m), 2.0, Weak)),
        };
        foreach (var step in steps)
        {
            await step();
        }

        Assert.Equal(2, live.Sink.Signals.Count(s => s.Source == SignalSources.Ensemble)); // candles 2 and 3, with the vote
        Assert.Single(live.Sink.Signals, s => s.Source == "tradingview:calls");

        // A replay reads ahead of the engine: every alert is handed over before the first candle is decided, and each is
        // applied when its stream reaches the candle it arrived before live: same signals, same seqs, same outcomes, same order.
        using var replay = new StageHost();
        var intake = replay.Services.GetRequiredService<IAlertIntake>();
        foreach (var alert in live.Sink.Alerts)
        {
            await intake.ReplayAsync(alert, CancellationToken.None).AsTask().WaitAsync(Timeout);
        }

        await replay.Closed(Result(Nth(Tf, 1, 100m), 2.0, Weak));
        await replay.Closed(Result(Nth(Tf, 2, 100m), 2.0, Weak));
        await replay.Closed(Result(Nth(Tf, 3, 100m), 2.0, Weak));
        await replay.Closed(Result(Nth(Tf, 4, 100m), 2.0, Weak));
        await replay.Closed(Result(Nth(Tf, 5, 101m, high: 106m, low: 96m), 2.0, Weak));

        Assert.Empty(replay.Sink.Alerts); // already stored: a replay does not store them again
        Assert.Equal(Decisions(live.Sink.Signals), Decisions(replay.Sink.Signals));
        Assert.Equal(Decisions(live.Sink.ShadowSignals), Decisions(replay.Sink.ShadowSignals));
        Assert.Equal(Results(live.Sink.Outcomes), Results(replay.Sink.Outcomes));
        Assert.NotEmpty(live.Sink.Outcomes);

        static string[] Decisions(IEnumerable<Signal> signals) =>
            signals.Select(s => $"{s.Seq} {s.Id} {s.Source} {s.Direction} {s.Confidence} {s.Entry} {s.Target} {s.Stop}").ToArray();

        static string[] Results(IEnumerable<SignalOutcome> outcomes) =>
            outcomes.Select(o => $"{o.SignalId} {o.SignalSeq} {o.Outcome} {o.ExitPrice} {o.RMultiple}").ToArray();
    }

    [Fact]
    public async Task RestoredAlertsBringBackTheStandingVoteAndTheExitMarks()
    {
        using var live = new StageHost();
        await live.Closed(Result(Nth(Tf, 1, 100m), 2.0, Weak));
        await SubmitAsync(live, Alert(AlertAction.Long, mode: AlertMode.Vote, weight: 1, confidence: 90, voteExpiry: TimeSpan.FromHours(3)));
        var alerts = live.Sink.Alerts;

        // A restarted stage: the signals come back with the stored signals, then the alerts (oldest first).
        using var restarted = new StageHost();
        var restore = restarted.Services.GetRequiredService<ISignalStateRestore>();
        restore.RestoreSignal(live.Sink.ShadowSignals.Single(), isShadow: true);
        restore.RestoreCompleted();
        foreach (var alert in alerts)
        {
            restarted.Services.GetRequiredService<IAlertIntake>().Restore(alert);
        }

        await restarted.Closed(Result(Nth(Tf, 2, 100m), 2.0, Weak));
        Assert.Single(restarted.Sink.Signals); // the vote still tips the ensemble
    }

    [Fact]
    public async Task AnAlertReachesThePublishersAfterItsCommitAheadOfItsSignalAndTheResultSaysWhenItIsStored()
    {
        var durable = new HeldCommits();
        using var host = new StageHost(durable: durable);
        await host.Closed(Result(Nth(Tf, 1, 100m), 2.0, []));

        var result = await SubmitAsync(host, Alert(AlertAction.Long));
        Assert.Equal(["alert", "signal"], durable.Queued);
        Assert.False(result.Committed.IsCompleted, "stored only once the store acknowledged it");
        Assert.Empty(host.Sink.Alerts);
        Assert.Empty(host.Sink.Signals);

        await durable.CommitAsync();
        await result.Committed.WaitAsync(Timeout);
        var alert = Assert.Single(host.Sink.Alerts);
        Assert.Equal(["alert:" + alert.Id.ToString("N"), "signal:" + host.Sink.Signals.Single().Id], host.Sink.Order);
    }

    private static string Rejected(AlertResult result) => Assert.IsType<AlertResult.Rejected>(result).Field;

    private static Task<AlertResult> SubmitAsync(StageHost host, AlertSubmission alert) =>
        host.Services.GetRequiredService<IAlertIntake>().SubmitAsync(alert, CancellationToken.None).AsTask().WaitAsync(Timeout);

    private static AlertSubmission Alert(
        AlertAction action,
        decimal price = 100m,
        AlertMode mode = AlertMode.Signal,
        string symbol = "BTCUSDT",
        decimal? stop = null,
        decimal? target = null,
        double weight = 0.25,
        double confidence = 70,
        TimeSpan? voteExpiry = null,
        bool learn = false,
        string source = "tradingview:main") => new()
        {
            Received = new TradingViewAlertReceived
            {
                Id = Guid.NewGuid(),
                Source = source,
                Mode = mode == AlertMode.Vote ? "vote" : "signal",
                Action = action switch { AlertAction.Long => "buy", AlertAction.Short => "sell", _ => "exit" },
                Symbol = symbol,
                Timeframe = Tf,
                Price = price,
                Stop = stop,
                Target = target,
                Strategy = "RSI dip",
                Ticker = "BINANCE:" + symbol,
                Interval = "60",
                DedupeKey = "test",
                ReceivedAt = T0 + 1_000_000_000,
                MarketTime = 0,
            },
            Mode = mode,
            Action = action,
            Policy = new AlertPolicy(confidence, weight, learn, LearnAfter: 2, MinWeightFactor: 0.25, MaxWeightFactor: 2, voteExpiry ?? TimeSpan.FromHours(1), MaxPriceDeviation: 0.1),
        };

    /// <summary>A durable output that commits only when told to, in the order it was handed things.</summary>
    private sealed class HeldCommits : IDurableEngineOutput
    {
        private readonly List<(string Kind, Func<ValueTask> Publish)> _queued = [];

        public IReadOnlyList<string> Queued => _queued.Select(q => q.Kind).ToList();

        public ValueTask OnCandleAsync(CandleUpdate update, CancellationToken cancellationToken) => ValueTask.CompletedTask;

        public ValueTask OnSignalAsync(Signal signal, IEngineOutput committed, CancellationToken cancellationToken) =>
            Hold("signal", () => committed.OnSignalAsync(signal, CancellationToken.None));

        public ValueTask OnShadowSignalAsync(Signal signal, CancellationToken cancellationToken) => ValueTask.CompletedTask;

        public ValueTask OnOutcomeAsync(SignalOutcome outcome, IEngineOutput committed, CancellationToken cancellationToken) =>
            Hold("outcome", () => committed.OnOutcomeAsync(outcome, CancellationToken.None));

        public ValueTask OnAlertAsync(TradingViewAlertReceived alert, IEngineOutput committed, CancellationToken cancellationToken) =>
            Hold("alert", () => committed.OnAlertAsync(alert, CancellationToken.None));

        public async Task CommitAsync()
        {
            foreach (var (_, publish) in _queued)
            {
                await publish();
            }

            _queued.Clear();
        }

        private ValueTask Hold(string kind, Func<ValueTask> publish)
        {
            _queued.Add((kind, publish));
            return ValueTask.CompletedTask;
        }
    }
}
