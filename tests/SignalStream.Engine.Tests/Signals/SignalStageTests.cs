using System.Diagnostics.Metrics;
using FsCheck;
using FsCheck.Fluent;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using SignalStream.Contracts;
using SignalStream.Engine.Events;
using SignalStream.Engine.Inference;
using SignalStream.Engine.Journal;
using SignalStream.Engine.Signals;
using SignalStream.Engine.Signals.Internal;
using static SignalStream.Engine.Tests.Signals.SignalTestData;

namespace SignalStream.Engine.Tests.Signals;

public class SignalStageTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    // Live vote: long = 0.6·0.9 + 0.4·0.7 = 0.82 → entry 100, ATR 2: target 105.46, stop 98.148.
    // Shadow lstm-next replaces the live LSTM: long = 0.6·0.7 + 0.4·0.7 = 0.70 → target 105.1, stop 97.98.
    private static readonly ModelPrediction[] LongWithShadow =
    [
        Lstm(0.05, 0.05, 0.9),
        PatchTst(0.1, 0.2, 0.7),
        Lstm(0.1, 0.2, 0.7, name: "lstm-next", shadow: true),
    ];

    [Fact]
    public async Task SignalsAreEmittedWithContiguousSeqResolveAndTheReportShowsLiveAndShadowRows()
    {
        using var host = new StageHost();
        var tf = Timeframe.OneHour;

        await host.Closed(Result(Nth(tf, 0, 100m), 2.0, LongWithShadow, origin: CandleOrigin.History));
        await host.Closed(Result(Nth(tf, 1, 100m), 2.0, LongWithShadow, rsi: 28));
        await host.Closed(Result(Nth(tf, 2, 104m, high: 110m, low: 99m), 2.0, []));
        await host.Closed(Result(Nth(tf, 3, 100m), 2.0, LongWithShadow));
        await host.Closed(Result(Nth(tf, 4, 95m, high: 101m, low: 90m), 2.0, []));

        Assert.Equal([1L, 2L], host.Sink.Signals.Select(s => s.Seq));
        var first = host.Sink.Signals[0];
        Assert.Equal((105.46m, 98.148m), (first.Target, first.Stop));
        Assert.Equal(2, host.Sink.ShadowSignals.Count);
        Assert.All(host.Sink.ShadowSignals, s => Assert.Equal(0, s.Seq));
        Assert.Equal((105.1m, 97.98m), (host.Sink.ShadowSignals[0].Target, host.Sink.ShadowSignals[0].Stop));

        Assert.Equal(
            [("BTCUSDT-1h-" + Nth(tf, 1, 0m).OpenTime, false, OutcomeKind.Win),
             ("BTCUSDT-1h-" + Nth(tf, 1, 0m).OpenTime + "-shadow-lstm-next", true, OutcomeKind.Win),
             ("BTCUSDT-1h-" + Nth(tf, 3, 0m).OpenTime, false, OutcomeKind.Loss),
             ("BTCUSDT-1h-" + Nth(tf, 3, 0m).OpenTime + "-shadow-lstm-next", true, OutcomeKind.Loss)],
            host.Sink.Outcomes.Select(o => (o.SignalId, o.IsShadow, o.Outcome)));
        Assert.Equal(1, host.Sink.Outcomes[0].SignalSeq);

        var report = host.Services.GetRequiredService<IPerformanceReport>().GetReport();
        var ensemble = Assert.Single(report.Groups, g => g is { Model: "ensemble", Symbol: "BTCUSDT", Timeframe: "1h" });
        Assert.Equal((2, 0, 1, 1, 0.5), (ensemble.Signals, ensemble.Open, ensemble.Wins, ensemble.Losses, ensemble.WinRate));
        Assert.Equal(2.9481, ensemble.ProfitFactor); // 5.46 / 1.852 R won, 1 R lost
        var shadow = Assert.Single(report.Groups, g => g is { Model: "lstm-next", IsShadow: true, Symbol: "BTCUSDT", Timeframe: "1h" });
        Assert.Equal((2, 1, 1), (shadow.Signals, shadow.Wins, shadow.Losses));
        Assert.Contains(report.Groups, g => g is { Model: "lstm-direction", IsShadow: false, Symbol: "*", Timeframe: "*" });
        Assert.DoesNotContain(report.Groups, g => g is { Model: "lstm-next", IsShadow: false });
    }

    [Fact]
    public async Task ASignalCarriesTheContractFieldsAndAReadableRationale()
    {
        using var host = new StageHost();
        var candle = Nth(Timeframe.OneHour, 1, 100m);
        await host.Closed(Result(candle, 2.0, LongWithShadow[..2], rsi: 28, macd: 0.4));

        var signal = Assert.Single(host.Sink.Signals);
        Assert.Equal($"BTCUSDT-1h-{candle.OpenTime}", signal.Id);
        Assert.Equal(SignalDirection.Long, signal.Direction);
        Assert.Equal(82, signal.Confidence);
        Assert.Equal(2.9481, signal.RiskReward); // 5.46 / 1.852 = 2.94816…, cut (never rounded up) to 4 decimals
        Assert.Equal(96.0, signal.FusionScore); // 55 + 50·(0.6·0.9 + 0.4·0.7)·1
        Assert.Equal((candle.OpenTime, candle.CloseTime), (signal.CandleOpenTime, signal.CandleCloseTime));
        Assert.Equal(candle.CloseTime + (12 * 3_600_000L), signal.ExpiresAt);
        Assert.Equal((candle.CloseTime + 5, candle.CloseTime + 7), (signal.ExchangeTime, signal.ReceivedAt));
        Assert.Equal(host.Time.GetUtcNow().ToUnixTimeMilliseconds(), signal.CreatedAt);
        Assert.Equal(signal.CreatedAt, signal.PublishedAt); // stamped once by EngineOutputs, before the store and the fan-out
        Assert.Equal(["long", "long"], signal.Models.Select(m => m.Vote));
        Assert.Equal([0.6, 0.4], signal.Models.Select(m => m.Weight));
        Assert.Equal(
            [
                "LSTM and PatchTST agree long on 1h",
                "Ensemble vote long 0.82 vs short 0.07 (confidence 82)",
                "RSI 28 (oversold)",
                "MACD histogram positive (supports the long)",
                "Fusion 96 across 1h",
                "ATR 2.0% → target +5.46%, stop −1.85% (R:R 2.95)",
            ],
            signal.Rationale);
    }

    [Fact]
    public async Task AShadowDecisionHandedOverAfterTheLiveOneIsTheOneItWouldBeHandedOverWithIt()
    {
        // The 1h candle's shadow decision reads the symbol's fusion views as of its live decision. Between the live
        // decision and the shadow predictions, a 15m candle closing at the same instant turns the 15m view short: a
        // shadow decided against the views of that moment would score its long lower.
        var hour = Result(Nth(Timeframe.OneHour, 1, 100m), 2.0, LongWithShadow, rsi: 28);
        var quarter = Result(Nth(Timeframe.FifteenMinutes, 7, 100m), 2.0, [Lstm(0.9, 0.05, 0.05), PatchTst(0.7, 0.2, 0.1)]);
        Assert.Equal(hour.Update.Candle.CloseTime, quarter.Update.Candle.CloseTime);

        using var together = new StageHost();
        await together.Closed(hour);
        await together.Closed(quarter);

        using var after = new StageHost();
        var hourLive = hour with { Predictions = LongWithShadow[..2], ShadowPredictionsFollow = true };
        await after.Closed(hourLive);
        Assert.Single(after.Sink.Signals); // published before the shadow model has answered
        after.Time.Advance(TimeSpan.FromSeconds(3));
        await after.Closed(quarter);
        await after.ShadowPredictions(hourLive, LongWithShadow[2..]);

        var expected = Assert.Single(together.Sink.ShadowSignals);
        var actual = Assert.Single(after.Sink.ShadowSignals);
        Assert.Equal(
            (expected.Id, expected.FusionScore, expected.Confidence, expected.Target, expected.Stop, expected.CreatedAt),
            (actual.Id, actual.FusionScore, actual.Confidence, actual.Target, actual.Stop, actual.CreatedAt));
        Assert.Equal(expected.Rationale, actual.Rationale);
        Assert.Equal(expected.Models.Select(m => (m.Name, m.Weight)), actual.Models.Select(m => (m.Name, m.Weight)));
        Assert.Equal(together.Sink.Signals.Select(s => (s.Id, s.Seq, s.FusionScore)), after.Sink.Signals.Select(s => (s.Id, s.Seq, s.FusionScore)));
    }

    [Fact]
    public async Task AShadowSignalHandedOverLaterStillResolvesOnTheStreamsNextCandle()
    {
        using var host = new StageHost();
        var tf = Timeframe.OneHour;
        var first = Result(Nth(tf, 1, 100m), 2.0, LongWithShadow[..2]) with { ShadowPredictionsFollow = true };
        await host.Closed(first);
        await host.ShadowPredictions(first, LongWithShadow[2..]);
        await host.Closed(Result(Nth(tf, 2, 104m, high: 110m, low: 99m), 2.0, []));

        Assert.Equal(LiveAndShadowWins(first), host.Sink.Outcomes.Select(o => (o.SignalId, o.IsShadow, o.Outcome)));
    }

    [Fact]
    public async Task WhenShadowPredictionsFollowTheStreamsShadowSignalsResolveInThatCallNotBeforeTheLiveDecision()
    {
        using var host = new StageHost();
        var tf = Timeframe.OneHour;
        var first = Result(Nth(tf, 1, 100m), 2.0, LongWithShadow[..2]) with { ShadowPredictionsFollow = true };
        await host.Closed(first);
        await host.ShadowPredictions(first, LongWithShadow[2..]);
        var second = Result(Nth(tf, 2, 104m, high: 110m, low: 99m), 2.0, LongWithShadow[..2]) with { ShadowPredictionsFollow = true };

        // The live call resolves the live signal only: no subscriber waits for a shadow outcome.
        await host.Closed(second);
        Assert.Equal([(false, OutcomeKind.Win)], host.Sink.Outcomes.Select(o => (o.IsShadow, o.Outcome)));

        // The shadow call resolves the shadow signal, even when every shadow model failed and it brings no prediction.
        await host.ShadowPredictions(second, []);
        Assert.Equal(LiveAndShadowWins(first), host.Sink.Outcomes.Select(o => (o.SignalId, o.IsShadow, o.Outcome)));
    }

    /// <summary>The outcomes of a candle's live and lstm-next shadow signal when both hit their targets.</summary>
    private static (string SignalId, bool IsShadow, OutcomeKind Outcome)[] LiveAndShadowWins(ClosedCandleResult issued) =>
    [
        ("BTCUSDT-1h-" + issued.Update.Candle.OpenTime, false, OutcomeKind.Win),
        ("BTCUSDT-1h-" + issued.Update.Candle.OpenTime + "-shadow-lstm-next", true, OutcomeKind.Win),
    ];

    [Fact]
    public async Task ShadowPredictionsNoLiveDecisionAnnouncedAreDroppedNotDecidedAgainstAnotherCandle()
    {
        using var host = new StageHost();
        var tf = Timeframe.OneHour;
        var decided = Result(Nth(tf, 1, 100m), 2.0, LongWithShadow[..2]) with { ShadowPredictionsFollow = true };
        await host.Closed(decided);

        // Shadow predictions for a candle the stage has not decided, and a live prediction handed over as a shadow one.
        await host.ShadowPredictions(Result(Nth(tf, 2, 100m), 2.0, []), LongWithShadow[2..]);
        await host.ShadowPredictions(decided, LongWithShadow[..1]);

        Assert.Empty(host.Sink.ShadowSignals);
        Assert.Single(host.Sink.Signals);
    }

    [Fact]
    public async Task SeqContinuesAfterTheStoredLastSeqPerSymbol()
    {
        var sequence = new StoredSequence(new() { ["BTCUSDT"] = 41 });
        using var host = new StageHost(sequence: sequence);
        await host.Closed(Result(Nth(Timeframe.OneHour, 1, 100m), 2.0, LongWithShadow[..2]));
        await host.Closed(Result(Nth(Timeframe.OneHour, 1, 100m, symbol: "ETHUSDT"), 2.0, LongWithShadow[..2]));
        await host.Closed(Result(Nth(Timeframe.OneHour, 2, 100m), 0.5, LongWithShadow[..2]));

        Assert.Equal([("BTCUSDT", 42L), ("ETHUSDT", 1L), ("BTCUSDT", 43L)], host.Sink.Signals.Select(s => (s.Symbol, s.Seq)));
        Assert.Equal(2, sequence.Reads); // once per symbol
    }

    [Fact]
    public async Task PublishedOutcomesAreNumberedAfterTheStoredLastOutcomeSeqAndShadowOutcomesAreNot()
    {
        var sequence = new StoredSequence(new() { ["outcomes:BTCUSDT"] = 7 });
        using var host = new StageHost(sequence: sequence);
        var tf = Timeframe.OneHour;
        await host.Closed(Result(Nth(tf, 1, 100m), 2.0, LongWithShadow, rsi: 28));
        await host.Closed(Result(Nth(tf, 2, 104m, high: 110m, low: 99m), 2.0, []));
        await host.Closed(Result(Nth(tf, 3, 100m), 2.0, LongWithShadow));
        await host.Closed(Result(Nth(tf, 4, 95m, high: 101m, low: 90m), 2.0, []));

        Assert.Equal([(false, 8L), (true, 0L), (false, 9L), (true, 0L)], host.Sink.Outcomes.Select(o => (o.IsShadow, o.OutcomeSeq)));
    }

    [Fact]
    public async Task ConcurrentTimeframesOfOneSymbolDeliverSeqInOrderWithoutHoles()
    {
        using var host = new StageHost(sink: new RecordingSink(yieldOnSignal: true));
        Timeframe[] timeframes = [Timeframe.OneMinute, Timeframe.FiveMinutes, Timeframe.FifteenMinutes, Timeframe.OneHour];
        string[] symbols = ["BTCUSDT", "ETHUSDT"];
        var streams = symbols.SelectMany(s => timeframes.Select(tf => (Symbol: s, Timeframe: tf))).Select(stream => Task.Run(async () =>
        {
            // Alternate long and short so each candle's signal resolves or stays open; every candle signals.
            for (var n = 0; n < 40; n++)
            {
                ModelPrediction[] models = n % 2 == 0 ? LongWithShadow : [Lstm(0.9, 0.05, 0.05), PatchTst(0.7, 0.2, 0.1)];
                await host.Closed(Result(Nth(stream.Timeframe, n, 100m, high: 100.5m, low: 99.5m, symbol: stream.Symbol), 2.0, models));
            }
        }));
        await Task.WhenAll(streams).WaitAsync(Timeout);

        foreach (var symbol in symbols)
        {
            var seqs = host.Sink.Signals.Where(s => s.Symbol == symbol).Select(s => s.Seq).ToArray();
            Assert.Equal(Enumerable.Range(1, timeframes.Length * 40).Select(i => (long)i), seqs);
        }
    }

    [Fact]
    public async Task HistoryCandlesNeitherSignalNorResolve()
    {
        using var host = new StageHost();
        await host.Closed(Result(Nth(Timeframe.OneHour, 1, 100m), 2.0, LongWithShadow[..2]));
        await host.Closed(Result(Nth(Timeframe.OneHour, 2, 100m, high: 200m, low: 1m), 2.0, LongWithShadow[..2], origin: CandleOrigin.History));

        Assert.Single(host.Sink.Signals);
        Assert.Empty(host.Sink.Outcomes);
        Assert.Equal(1, host.Services.GetRequiredService<SignalJournal>().OpenLiveSignals);
    }

    [Fact]
    public async Task DivergentOrMissingOrUnusablePredictionsGiveNoSignal()
    {
        using var host = new StageHost();
        await host.Closed(Result(Nth(Timeframe.OneHour, 1, 100m), 2.0, [Lstm(0.05, 0.05, 0.9), PatchTst(0.2, 0.5, 0.3)]));
        await host.Closed(Result(Nth(Timeframe.OneHour, 2, 100m), 2.0, [Lstm(0.05, 0.05, 0.9)]));
        await host.Closed(Result(Nth(Timeframe.OneHour, 3, 100m), 2.0, [Lstm(0.05, 0.05, 0.9), PatchTst(double.NaN, 0.2, 0.7)]));
        await host.Closed(Result(Nth(Timeframe.OneHour, 4, 100m), 2.0, [Lstm(0.05, 0.05, 0.9), PatchTst(0.1, 0.2, 0.9)]));
        await host.Closed(Result(Nth(Timeframe.OneHour, 5, 100m), 0, LongWithShadow[..2]));
        Assert.Empty(host.Sink.Signals);
        Assert.Empty(host.Sink.ShadowSignals);
    }

    [Fact]
    public async Task RestoredOpenSignalsResolveOnLaterCandles()
    {
        using var host = new StageHost();
        var signal = OutcomeRulesTests.LongSignal();
        var restore = host.Services.GetRequiredService<ISignalStateRestore>();
        restore.RestoreSignal(signal, isShadow: false);

        // The outcome of the second signal is replayed before the signal itself: it must stay closed.
        restore.RestoreOutcome(new SignalOutcome
        {
            SignalId = signal.Id + "-gone", SignalSeq = 8, Symbol = signal.Symbol, Timeframe = signal.Timeframe, Direction = signal.Direction,
            Outcome = OutcomeKind.Loss, Entry = 100m, ExitPrice = 98.12m, RMultiple = -1, ResolvedCandleOpenTime = 0, ResolvedAt = 0,
            Reason = "stored", Models = signal.Models,
        });
        restore.RestoreSignal(signal with { Id = signal.Id + "-gone", Seq = 8 }, isShadow: false);
        restore.RestoreCompleted();

        await host.Closed(Result(Nth(Timeframe.OneHour, 1, 105m, high: 106m, low: 100m), 2.0, []));
        var outcome = Assert.Single(host.Sink.Outcomes);
        Assert.Equal((signal.Id, OutcomeKind.Win), (outcome.SignalId, outcome.Outcome));
        var row = Assert.Single(host.Services.GetRequiredService<IPerformanceReport>().GetReport().Groups, g => g is { Model: "ensemble", Symbol: "*", Timeframe: "*" });
        Assert.Equal((2, 0, 1, 1), (row.Signals, row.Open, row.Wins, row.Losses));
    }

    [Fact]
    public async Task MetricsCountSignalsShadowSignalsOutcomesAndObserveWinRateAndOpenSignals()
    {
        using var host = new StageHost();
        var factory = host.Services.GetRequiredService<IMeterFactory>();
        var measurements = new List<(string Name, double Value, Dictionary<string, string?> Tags)>();
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Name == SignalsMetrics.MeterName && instrument.Meter.Scope == factory)
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<long>((i, v, tags, _) => Record(i.Name, v, tags));
        listener.SetMeasurementEventCallback<int>((i, v, tags, _) => Record(i.Name, v, tags));
        listener.SetMeasurementEventCallback<double>((i, v, tags, _) => Record(i.Name, v, tags));
        listener.Start();

        await host.Closed(Result(Nth(Timeframe.OneHour, 1, 100m), 2.0, LongWithShadow));
        await host.Closed(Result(Nth(Timeframe.OneHour, 2, 104m, high: 110m, low: 99m), 2.0, []));
        await host.Closed(Result(Nth(Timeframe.OneHour, 3, 100m), 2.0, LongWithShadow));
        listener.RecordObservableInstruments();

        lock (measurements)
        {
            Assert.Equal(2, measurements.Count(m => m is { Name: "signalstream_signals_total" } && m.Tags["timeframe"] == "1h" && m.Tags["direction"] == "long"));
            Assert.Equal(2, measurements.Count(m => m.Name == "signalstream_shadow_signals_total" && m.Tags["model"] == "lstm-next"));
            Assert.Single(measurements, m => m.Name == "signalstream_signal_outcomes_total" && m.Tags["model"] == "ensemble" && m.Tags["outcome"] == "win");
            Assert.Single(measurements, m => m.Name == "signalstream_signal_outcomes_total" && m.Tags["model"] == "lstm-next" && m.Tags["outcome"] == "win" && m.Tags["shadow"] == "true");
            Assert.Equal(1.0, Assert.Single(measurements, m => m.Name == "signalstream_model_win_rate" && m.Tags["model"] == "ensemble").Value);
            Assert.Equal(1.0, Assert.Single(measurements, m => m.Name == "signalstream_open_signals").Value);
        }

        void Record(string name, double value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
        {
            var dict = new Dictionary<string, string?>();
            foreach (var tag in tags)
            {
                dict[tag.Key] = tag.Value?.ToString();
            }

            lock (measurements)
            {
                measurements.Add((name, value, dict));
            }
        }
    }

    [Fact]
    public void OnAnyPricePathEverySignalResolvesExactlyOnceByItsExpiryAndSeqHasNoHoles()
    {
        // One step: price move and candle range in basis points, which predictions arrive, ATR in basis points.
        var steps =
            from move in Gen.Choose(-300, 300)
            from range in Gen.Choose(0, 400)
            from kind in Gen.Choose(0, 4)
            from atr in Gen.Choose(10, 300)
            select (Move: move, Range: range, Kind: kind, Atr: atr);
        ModelPrediction[][] kinds =
        [
            [],
            LongWithShadow,
            [Lstm(0.9, 0.05, 0.05), PatchTst(0.7, 0.2, 0.1), Lstm(0.6, 0.3, 0.1, name: "lstm-next", shadow: true)],
            [Lstm(0.05, 0.05, 0.9), PatchTst(0.6, 0.2, 0.2)],
            [Lstm(0.05, 0.05, 0.9), PatchTst(0.1, 0.2, 0.7), Lstm(0.2, 0.6, 0.2, name: "lstm-next", shadow: true)],
        ];

        Check.One(Config.QuickThrowOnFailure.WithMaxTest(60), Prop.ForAll(steps.ArrayOf(40).ToArbitrary(), path =>
        {
            using var host = new StageHost();
            var close = 100m;
            var n = 0;
            foreach (var step in path.Concat(Enumerable.Repeat((Move: 0, Range: 0, Kind: 0, Atr: 100), 13)))
            {
                close = Math.Max(1m, close * (1 + (step.Move / 10_000m)));
                var half = close * step.Range / 20_000m;
                var candle = Nth(Timeframe.OneHour, n++, close, high: close + half, low: close - half);
                host.ClosedSynchronously(Result(candle, (double)close * step.Atr / 10_000, kinds[step.Kind]));
            }

            var signals = host.Sink.Signals;
            var all = signals.Select(s => (Signal: s, Shadow: false)).Concat(host.Sink.ShadowSignals.Select(s => (Signal: s, Shadow: true))).ToList();
            var outcomes = host.Sink.Outcomes;
            Assert.Equal(Enumerable.Range(1, signals.Count).Select(i => (long)i), signals.Select(s => s.Seq));
            Assert.Equal(all.Count, outcomes.Count);
            foreach (var (signal, shadow) in all)
            {
                var outcome = Assert.Single(outcomes, o => o.SignalId == signal.Id);
                Assert.Equal(shadow, outcome.IsShadow);
                Assert.InRange(outcome.ResolvedCandleOpenTime, signal.CandleOpenTime + 1, signal.ExpiresAt);
                switch (outcome.Outcome)
                {
                    case OutcomeKind.Win:
                        Assert.Equal((signal.Target, signal.RiskReward), (outcome.ExitPrice, outcome.RMultiple));
                        break;
                    case OutcomeKind.Loss:
                        Assert.Equal((signal.Stop, -1.0), (outcome.ExitPrice, outcome.RMultiple));
                        break;
                    default:
                        Assert.Equal(signal.ExpiresAt, Timeframe.OneHour.CloseTimeOf(outcome.ResolvedCandleOpenTime));
                        Assert.InRange(outcome.RMultiple, -1.0, signal.RiskReward);
                        break;
                }
            }

            var report = host.Services.GetRequiredService<IPerformanceReport>().GetReport();
            if (signals.Count > 0)
            {
                var ensemble = Assert.Single(report.Groups, g => g is { Model: "ensemble", Symbol: "*", Timeframe: "*" });
                Assert.Equal((signals.Count, 0), (ensemble.Signals, ensemble.Open));
                Assert.Equal(signals.Count, ensemble.Wins + ensemble.Losses + ensemble.Expired);
            }

            Assert.Equal(0, host.Services.GetRequiredService<SignalJournal>().OpenLiveSignals);
        }));
    }

    [Fact]
    public async Task ACandleThatGivesNoSignalAllocatesNothing()
    {
        using var host = new StageHost();
        var stage = host.Services.GetRequiredService<ISignalStage>();
        ModelPrediction[] divergent = [Lstm(0.05, 0.05, 0.9), PatchTst(0.2, 0.5, 0.3)];
        var results = Enumerable.Range(0, 200).Select(n => Result(Nth(Timeframe.OneMinute, n, 100m), 2.0, divergent)).ToArray();
        for (var n = 0; n < 100; n++)
        {
            await stage.OnClosedCandleAsync(results[n], CancellationToken.None);
        }

        // Every call completes synchronously, so the whole loop runs on this thread.
        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var n = 100; n < 200; n++)
        {
            var pending = stage.OnClosedCandleAsync(results[n], CancellationToken.None);
            Assert.True(pending.IsCompletedSuccessfully);
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
        Assert.Empty(host.Sink.Signals);
    }

    [Fact]
    public void InvalidOptionsFailAtStartWithAMessageThatSaysHowToFixThem()
    {
        using var host = new StageHost(new Dictionary<string, string?>
        {
            ["Signals:MinVoteScore"] = "1.5",
            ["Signals:TimeframeWeights:2x"] = "0.2",
            ["Signals:StopAtrBase"] = "0.5",
        });
        var error = Assert.Throws<OptionsValidationException>(() => host.Services.GetRequiredService<ISignalStage>());
        Assert.Contains("Signals:MinVoteScore is 1.5", error.Message, StringComparison.Ordinal);
        Assert.Contains("'2x' is not a Binance interval name", error.Message, StringComparison.Ordinal);
        Assert.Contains("Signals:StopAtrBase (0.5) must be finite and greater than Signals:StopAtrConfidence (0.7)", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void DefaultOptionsAreValidAndConfigurationOverridesThem()
    {
        using var host = new StageHost(new Dictionary<string, string?> { ["Signals:ExpiryCandlesByTimeframe:1m"] = "30", ["Signals:MinRiskReward"] = "2" });
        var rules = host.Services.GetRequiredService<SignalRules>();
        Assert.Equal(30 * 60_000L, rules.ExpiryMilliseconds(Timeframe.OneMinute));
        Assert.Equal(2.0, rules.MinRiskReward);
        Assert.Equal(0.65, rules.MinVoteScore);
        Assert.Equal(["lstm", "patchtst"], rules.AgreementFamilies);
        Assert.Equal(0.35, rules.TimeframeWeight(Timeframe.FourHours));
    }

    /// <summary>The stage as the engine gets it from DI, with a recording sink as the only output.</summary>
    internal sealed class StageHost : IDisposable
    {
        private readonly ServiceProvider _provider;

        public StageHost(
            Dictionary<string, string?>? settings = null, RecordingSink? sink = null, ISignalSequence? sequence = null, IDurableEngineOutput? durable = null)
        {
            Sink = sink ?? new RecordingSink();
            var configuration = new ConfigurationBuilder().AddInMemoryCollection(settings ?? []).Build();
            var services = new ServiceCollection();
            services.AddLogging();
            services.AddSingleton<TimeProvider>(Time);
            services.AddSingleton(sequence ?? new NoStoreSequence());
            services.AddSingleton(new EngineOutputs(durable, [Sink], Time));
            services.AddSignalStreamSignals(configuration);
            _provider = services.BuildServiceProvider(new ServiceProviderOptions { ValidateOnBuild = true, ValidateScopes = true });
        }

        public ManualTime Time { get; } = new(DateTimeOffset.FromUnixTimeMilliseconds(T0 + 1_000_000_000));

        public RecordingSink Sink { get; }

        public IServiceProvider Services => _provider;

        public Task Closed(ClosedCandleResult result) =>
            _provider.GetRequiredService<ISignalStage>().OnClosedCandleAsync(result, CancellationToken.None).AsTask().WaitAsync(Timeout);

        public Task ShadowPredictions(ClosedCandleResult decided, IReadOnlyList<ModelPrediction> shadowPredictions) =>
            _provider.GetRequiredService<ISignalStage>().OnShadowPredictionsAsync(decided, shadowPredictions, CancellationToken.None).AsTask().WaitAsync(Timeout);

        /// <summary>With a sink that completes at once, the stage never has to wait: no sync-over-async needed.</summary>
        public void ClosedSynchronously(ClosedCandleResult result)
        {
            var closing = _provider.GetRequiredService<ISignalStage>().OnClosedCandleAsync(result, CancellationToken.None);
            if (closing.IsCompletedSuccessfully)
            {
                closing.GetAwaiter().GetResult(); // consumed once: it may be backed by a pooled source
            }
            else
            {
                Assert.Fail("the signal stage waited");
            }
        }

        public void Dispose() => _provider.Dispose();
    }

    internal sealed class ManualTime(DateTimeOffset now) : TimeProvider
    {
        private DateTimeOffset _now = now;

        public override DateTimeOffset GetUtcNow() => _now;

        public void Advance(TimeSpan by) => _now += by;
    }

    private sealed class StoredSequence(Dictionary<string, long> last) : ISignalSequence
    {
        private int _reads;

        public int Reads => _reads;

        public ValueTask<long> GetLastSeqAsync(string symbol, CancellationToken cancellationToken)
        {
            Interlocked.Increment(ref _reads);
            return ValueTask.FromResult(last.GetValueOrDefault(symbol));
        }

        public ValueTask<long> GetLastOutcomeSeqAsync(string symbol, CancellationToken cancellationToken) =>
            ValueTask.FromResult(last.GetValueOrDefault("outcomes:" + symbol));
    }

    /// <summary>Records what the stage hands its outputs; arrival order is kept per list.</summary>
    internal sealed class RecordingSink(bool yieldOnSignal = false) : IEngineOutput
    {
        private readonly Lock _gate = new();
        private readonly List<Signal> _signals = [];
        private readonly List<Signal> _shadowSignals = [];
        private readonly List<SignalOutcome> _outcomes = [];
        private readonly List<TradingViewAlertReceived> _alerts = [];
        private readonly List<string> _order = [];

        public IReadOnlyList<Signal> Signals => Snapshot(_signals);

        public IReadOnlyList<Signal> ShadowSignals => Snapshot(_shadowSignals);

        public IReadOnlyList<SignalOutcome> Outcomes => Snapshot(_outcomes);

        public IReadOnlyList<TradingViewAlertReceived> Alerts => Snapshot(_alerts);

        /// <summary>What reached this output, in order: <c>alert:{id}</c>, <c>signal:{id}</c>, <c>shadow:{id}</c>.</summary>
        public IReadOnlyList<string> Order => Snapshot(_order);

        public ValueTask OnAlertAsync(TradingViewAlertReceived alert, CancellationToken cancellationToken)
        {
            lock (_gate)
            {
                _alerts.Add(alert);
                _order.Add("alert:" + alert.Id.ToString("N"));
            }

            return ValueTask.CompletedTask;
        }

        public ValueTask OnCandleAsync(CandleUpdate update, CancellationToken cancellationToken) => ValueTask.CompletedTask;

        public async ValueTask OnSignalAsync(Signal signal, CancellationToken cancellationToken)
        {
            if (yieldOnSignal)
            {
                // Give other streams a chance to run in between, as a real (asynchronous) writer would.
                await Task.Yield();
            }

            lock (_gate)
            {
                _signals.Add(signal);
                _order.Add("signal:" + signal.Id);
            }
        }

        public ValueTask OnShadowSignalAsync(Signal signal, CancellationToken cancellationToken)
        {
            lock (_gate)
            {
                _shadowSignals.Add(signal);
                _order.Add("shadow:" + signal.Id);
            }

            return ValueTask.CompletedTask;
        }

        public ValueTask OnOutcomeAsync(SignalOutcome outcome, CancellationToken cancellationToken)
        {
            lock (_gate)
            {
                _outcomes.Add(outcome);
            }

            return ValueTask.CompletedTask;
        }

        private List<T> Snapshot<T>(List<T> list)
        {
            lock (_gate)
            {
                return [.. list];
            }
        }
    }

    /// <summary>No store: every symbol starts at seq 1.</summary>
    private sealed class NoStoreSequence : ISignalSequence
    {
        public ValueTask<long> GetLastSeqAsync(string symbol, CancellationToken cancellationToken) => ValueTask.FromResult(0L);

        public ValueTask<long> GetLastOutcomeSeqAsync(string symbol, CancellationToken cancellationToken) => ValueTask.FromResult(0L);
    }
}
