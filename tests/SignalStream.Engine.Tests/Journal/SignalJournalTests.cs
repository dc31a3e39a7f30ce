using SignalStream.Contracts;
using SignalStream.Engine.Journal;

namespace SignalStream.Engine.Tests.Journal;

public class SignalJournalTests
{
    private static readonly ModelVote LstmVote = new("lstm-direction", "1", "lstm", "long", 0.6, new ClassProbabilities(0.1, 0.1, 0.8));
    private static readonly ModelVote PatchVote = new("patchtst-direction", "1", "patchtst", "long", 0.4, new ClassProbabilities(0.2, 0.2, 0.6));

    [Fact]
    public void AnEmptyJournalReportsNothing()
    {
        Assert.Empty(new SignalJournal(TimeProvider.System).GetReport().Groups);
    }

    [Fact]
    public void OpenSignalsCountWithoutResults()
    {
        var journal = new SignalJournal(TimeProvider.System);
        journal.Track(Signal("a"), isShadow: false);
        journal.Track(Signal("a"), isShadow: false); // idempotent per id
        var row = Row(journal, SignalJournal.EnsembleModel, "BTCUSDT", "1h");
        Assert.Equal(1, row.Signals);
        Assert.Equal(1, row.Open);
        Assert.Equal(0, row.WinRate);
        Assert.Equal(0, row.ProfitFactor);
        Assert.Equal(0, row.AverageR);
        Assert.Equal(0, row.MaxDrawdown);
        Assert.Null(row.BrierScore);
        Assert.Empty(row.Calibration);
        Assert.Equal(1, journal.OpenLiveSignals);
    }

    [Fact]
    public void AllWinsGiveAFiniteProfitFactorEqualToTheGrossWinningR()
    {
        var journal = new SignalJournal(TimeProvider.System);
        Resolve(journal, "a", OutcomeKind.Win, 2.0);
        Resolve(journal, "b", OutcomeKind.Win, 1.5);
        var row = Row(journal, SignalJournal.EnsembleModel, "BTCUSDT", "1h");
        Assert.Equal(2, row.Wins);
        Assert.Equal(1.0, row.WinRate);
        Assert.Equal(3.5, row.ProfitFactor);
        Assert.True(double.IsFinite(row.ProfitFactor));
        Assert.Equal(1.75, row.AverageR);
        Assert.Equal(0, row.MaxDrawdown);
        Assert.Equal(0, row.Open);
        Assert.Equal(0, journal.OpenLiveSignals);
    }

    [Fact]
    public void AllLossesGiveAZeroProfitFactorAndTheirDrawdown()
    {
        var journal = new SignalJournal(TimeProvider.System);
        Resolve(journal, "a", OutcomeKind.Loss, -1);
        Resolve(journal, "b", OutcomeKind.Loss, -1);
        Resolve(journal, "c", OutcomeKind.Loss, -1);
        var row = Row(journal, SignalJournal.EnsembleModel, "BTCUSDT", "1h");
        Assert.Equal(0, row.WinRate);
        Assert.Equal(0, row.ProfitFactor);
        Assert.Equal(-1, row.AverageR);
        Assert.Equal(3, row.MaxDrawdown);
    }

    [Fact]
    public void AMixedSequenceGivesHandComputedStatistics()
    {
        // R: +2, −1, +1.5, −1, −1, expired −0.5 → cumulative 2, 1, 2.5, 1.5, 0.5, 0: peak 2.5, trough 0 → drawdown 2.5.
        // Gross win 3.5, gross loss 3.5 → profit factor 1; average 0 / 6 = 0; win rate 2/6.
        var journal = new SignalJournal(TimeProvider.System);
        Resolve(journal, "a", OutcomeKind.Win, 2.0);
        Resolve(journal, "b", OutcomeKind.Loss, -1);
        Resolve(journal, "c", OutcomeKind.Win, 1.5);
        Resolve(journal, "d", OutcomeKind.Loss, -1);
        Resolve(journal, "e", OutcomeKind.Loss, -1);
        Resolve(journal, "f", OutcomeKind.Expired, -0.5);
        var row = Row(journal, SignalJournal.EnsembleModel, "BTCUSDT", "1h");
        Assert.Equal((6, 2, 3, 1), (row.Signals, row.Wins, row.Losses, row.Expired));
        Assert.Equal(0.3333, row.WinRate);
        Assert.Equal(1.0, row.ProfitFactor);
        Assert.Equal(0, row.AverageR);
        Assert.Equal(2.5, row.MaxDrawdown);
    }

    [Fact]
    public void BrierScoreAndCalibrationUseEachModelsProbabilityOfTheDirection()
    {
        // LSTM predicts P(up) 0.8 on every signal; 1 win, 1 loss: Brier = ((0.8−1)² + (0.8−0)²) / 2 = (0.04 + 0.64) / 2 = 0.34.
        // Ensemble P(up) = 0.6·0.8 + 0.4·0.6 = 0.72: ((0.28)² + (0.72)²) / 2 = (0.0784 + 0.5184) / 2 = 0.2984.
        var journal = new SignalJournal(TimeProvider.System);
        Resolve(journal, "a", OutcomeKind.Win, 2.0);
        Resolve(journal, "b", OutcomeKind.Loss, -1);

        var lstm = Row(journal, "lstm-direction", "BTCUSDT", "1h");
        Assert.Equal(0.34, lstm.BrierScore);
        var bucket = Assert.Single(lstm.Calibration);
        Assert.Equal((0.8, 0.9, 2, 0.8, 0.5), (bucket.Lower, bucket.Upper, bucket.Count, bucket.MeanPredicted, bucket.ObservedWinRate));

        var ensemble = Row(journal, SignalJournal.EnsembleModel, "BTCUSDT", "1h");
        Assert.Equal(0.2984, ensemble.BrierScore);
        var ensembleBucket = Assert.Single(ensemble.Calibration);
        Assert.Equal((0.7, 0.72), (ensembleBucket.Lower, ensembleBucket.MeanPredicted));
    }

    [Fact]
    public void RollUpsCoverEverySymbolAndTimeframe()
    {
        var journal = new SignalJournal(TimeProvider.System);
        Resolve(journal, "a", OutcomeKind.Win, 2.0, symbol: "BTCUSDT", timeframe: Timeframe.OneHour);
        Resolve(journal, "b", OutcomeKind.Loss, -1, symbol: "ETHUSDT", timeframe: Timeframe.OneHour);
        Resolve(journal, "c", OutcomeKind.Loss, -1, symbol: "ETHUSDT", timeframe: Timeframe.FifteenMinutes);

        Assert.Equal(3, Row(journal, SignalJournal.EnsembleModel, "*", "*").Signals);
        Assert.Equal(2, Row(journal, SignalJournal.EnsembleModel, "*", "1h").Signals);
        Assert.Equal(2, Row(journal, SignalJournal.EnsembleModel, "ETHUSDT", "*").Signals);
        Assert.Equal(1, Row(journal, "lstm-direction", "ETHUSDT", "15m").Signals);
        Assert.Equal(2.0, Row(journal, "lstm-direction", "*", "*").MaxDrawdown);
    }

    [Fact]
    public void ShadowSignalsAreScoredOnlyForTheShadowModelBesideTheLiveRows()
    {
        var journal = new SignalJournal(TimeProvider.System);
        Resolve(journal, "live", OutcomeKind.Loss, -1);
        var shadowVote = new ModelVote("lstm-next", "2", "lstm", "long", 0.6, new ClassProbabilities(0.1, 0.2, 0.7)) { IsShadow = true };
        var shadow = Signal("live-shadow-lstm-next", [shadowVote, PatchVote]);
        journal.Track(shadow, isShadow: true);
        Assert.Equal(1, Row(journal, "lstm-next", "BTCUSDT", "1h", shadow: true).Open);
        Assert.Equal(0, journal.OpenLiveSignals);

        journal.Apply(Outcome(shadow, OutcomeKind.Win, 2.5, isShadow: true));
        var report = journal.GetReport();
        var shadowRow = Row(journal, "lstm-next", "BTCUSDT", "1h", shadow: true);
        Assert.Equal((1, 0, 1.0), (shadowRow.Wins, shadowRow.Open, shadowRow.WinRate));
        Assert.Equal(0.09, shadowRow.BrierScore); // (0.7 − 1)²

        // The live rows are untouched by the shadow signal, and no ensemble row exists for shadows.
        Assert.Equal(0, Row(journal, "patchtst-direction", "BTCUSDT", "1h").Wins);
        Assert.DoesNotContain(report.Groups, g => g.IsShadow && g.Model == SignalJournal.EnsembleModel);
        Assert.DoesNotContain(report.Groups, g => g.IsShadow && g.Model == "patchtst-direction");

        // Live rows come first, the ensemble leading them.
        Assert.Equal(SignalJournal.EnsembleModel, report.Groups[0].Model);
        Assert.True(report.Groups[^1].IsShadow);
    }

    [Fact]
    public void StatisticsRebuiltFromOutcomesAloneMatchTheLiveOnes()
    {
        var live = new SignalJournal(TimeProvider.System);
        var rebuilt = new SignalJournal(TimeProvider.System);
        var outcomes = new List<SignalOutcome>();
        foreach (var (id, kind, r) in new[] { ("a", OutcomeKind.Win, 2.0), ("b", OutcomeKind.Loss, -1.0), ("c", OutcomeKind.Expired, 0.3) })
        {
            var signal = Signal(id);
            live.Track(signal, false);
            var outcome = Outcome(signal, kind, r);
            live.Apply(outcome);
            outcomes.Add(outcome);
        }

        outcomes.ForEach(rebuilt.Apply);
        var a = live.GetReport().Groups;
        var b = rebuilt.GetReport().Groups;
        Assert.Equal(a.Count, b.Count);
        for (var i = 0; i < a.Count; i++)
        {
            Assert.Equal(a[i] with { Calibration = [], Equity = null }, b[i] with { Calibration = [], Equity = null });
            Assert.Equal(a[i].Calibration, b[i].Calibration);
            Assert.Equal(a[i].Equity, b[i].Equity);
        }
    }

    [Fact]
    public void EachCalibrationBucketKeepsItsAverageR()
    {
        var journal = new SignalJournal(TimeProvider.System);
        Resolve(journal, "a", OutcomeKind.Win, 2.5);
        Resolve(journal, "b", OutcomeKind.Loss, -1);
        Resolve(journal, "c", OutcomeKind.Expired, 0.2);

        // Every signal here has the ensemble's P(up) at 0.72: one bucket, [0.7, 0.8).
        var bucket = Assert.Single(Row(journal, SignalJournal.EnsembleModel, "*", "*").Calibration);
        Assert.Equal(0.7, bucket.Lower);
        Assert.Equal(3, bucket.Count);
        Assert.Equal(0.5667, bucket.AverageR);
        Assert.Equal(0.3333, bucket.ObservedWinRate);
    }

    [Fact]
    public void RollUpRowsKeepABoundedEquityCurveThatEndsWithTheNewestOutcome()
    {
        var journal = new SignalJournal(TimeProvider.System);
        const int outcomes = 1000;
        double cumulative = 0, peak = 0;
        var expected = new Dictionary<int, (double Cumulative, double Drawdown)>();
        for (var i = 1; i <= outcomes; i++)
        {
            // Two wins, then a loss of 3R: a sawtooth with a drawdown after every third outcome.
            var (kind, r) = i % 3 == 0 ? (OutcomeKind.Loss, -3.0) : (OutcomeKind.Win, 1.25);
            var signal = Signal($"s{i}", symbol: i % 2 == 0 ? "BTCUSDT" : "ETHUSDT");
            journal.Track(signal, false);
            journal.Apply(Outcome(signal, kind, r) with { ResolvedCandleOpenTime = i * 60_000L });
            cumulative += r;
            peak = Math.Max(peak, cumulative);
            expected[i] = (Math.Round(cumulative, 4), Math.Round(peak - cumulative, 4));
        }

        var equity = Row(journal, SignalJournal.EnsembleModel, "*", "*").Equity!;
        Assert.InRange(equity.Count, EquityPoint.MaxPoints / 2, EquityPoint.MaxPoints + 1);
        Assert.Equal(outcomes, equity[^1].Resolved);
        Assert.True(equity.Zip(equity.Skip(1)).All(p => p.First.Resolved < p.Second.Resolved), "points in order");
        foreach (var point in equity)
        {
            Assert.Equal(expected[point.Resolved], (point.CumulativeR, point.Drawdown));
            Assert.Equal(point.Resolved * 60_000L, point.ResolvedCandleOpenTime);
        }

        // Kept at one stride: the whole record's shape, not just its end.
        var stride = Assert.Single(equity.Zip(equity.Skip(1)).Select(p => p.Second.Resolved - p.First.Resolved).SkipLast(1).Distinct());
        Assert.True(equity[0].Resolved <= stride, "starts at the beginning");
        Assert.True(outcomes - equity[^2].Resolved <= stride, "reaches the end");

        Assert.Null(Row(journal, SignalJournal.EnsembleModel, "BTCUSDT", "1h").Equity);
        Assert.Null(Row(journal, SignalJournal.EnsembleModel, "*", "1h").Equity);
        Assert.NotNull(Row(journal, "lstm-direction", "*", "*").Equity);
    }

    [Fact]
    public void AnOutcomeAppliedBeforeItsSignalLeavesNothingOpen()
    {
        // A store's global order puts an outcome first when one group commit holds both (streams are grouped).
        var journal = new SignalJournal(TimeProvider.System);
        var signal = Signal("a");
        journal.Apply(Outcome(signal, OutcomeKind.Win, 2.0));
        journal.Track(signal, isShadow: false);

        var row = Row(journal, SignalJournal.EnsembleModel, "BTCUSDT", "1h");
        Assert.Equal((1, 0, 1), (row.Signals, row.Open, row.Wins));
        Assert.Equal(0, journal.OpenLiveSignals);
    }

    [Fact]
    public void ASnapshotRestoresTheJournalExactlyAndItCarriesOnAsTheOriginalWould()
    {
        var original = new SignalJournal(TimeProvider.System);
        var shadowVote = new ModelVote("lstm-next", "2", "lstm", "long", 0.6, new ClassProbabilities(0.1, 0.2, 0.7)) { IsShadow = true };
        var random = new Random(7);
        for (var i = 0; i < 700; i++)
        {
            // Past EquityPoint.MaxPoints outcomes, so the curves have thinned; R with many digits, so doubles must round-trip.
            var shadow = i % 5 == 0;
            var signal = Signal($"s{i}", shadow ? [shadowVote, PatchVote] : null, symbol: i % 2 == 0 ? "BTCUSDT" : "ETHUSDT");
            original.Track(signal, shadow);
            var r = random.Next(3) == 0 ? -1 : random.NextDouble() * 3;
            original.Apply(Outcome(signal, r > 0 ? OutcomeKind.Win : OutcomeKind.Loss, r, shadow) with { ResolvedCandleOpenTime = i * 60_000L });
        }

        original.Track(Signal("open-1"), false);
        original.Track(Signal("open-shadow", [shadowVote, PatchVote]), true);
        var late = Signal("late");
        original.Apply(Outcome(late, OutcomeKind.Loss, -1));

        // Through JSON, as a store keeps it.
        var json = System.Text.Json.JsonSerializer.Serialize(original.ToSnapshot());
        var restored = SignalJournal.FromSnapshot(System.Text.Json.JsonSerializer.Deserialize<JournalSnapshot>(json)!, TimeProvider.System);
        Assert.Equal(Report(original), Report(restored));
        Assert.Equal(original.OpenLiveSignals, restored.OpenLiveSignals);

        foreach (var journal in new[] { original, restored })
        {
            journal.Track(late, false);
            journal.Apply(Outcome(Signal("open-1"), OutcomeKind.Win, 1.5));
            journal.Track(Signal("next"), false);
        }

        Assert.Equal(Report(original), Report(restored));
        Assert.Equal(1, restored.OpenLiveSignals);
    }

    [Fact]
    public void ASnapshotThatDoesNotDescribeAJournalIsRefused()
    {
        var snapshot = new SignalJournal(TimeProvider.System).ToSnapshot();
        var journal = new SignalJournal(TimeProvider.System);
        journal.Track(Signal("a"), false);
        journal.Apply(Outcome(Signal("a"), OutcomeKind.Win, 1));
        var row = journal.ToSnapshot().Rows[0];

        Assert.Throws<InvalidDataException>(() => SignalJournal.FromSnapshot(snapshot with { Rows = [row, row] }, TimeProvider.System));
        Assert.Throws<InvalidDataException>(() => SignalJournal.FromSnapshot(snapshot with { Rows = [row with { BucketCount = [1] }] }, TimeProvider.System));
    }

    private static string Report(SignalJournal journal) =>
        System.Text.Json.JsonSerializer.Serialize(journal.GetReport() with { GeneratedAt = 0 });

    private static PerformanceGroup Row(SignalJournal journal, string model, string symbol, string timeframe, bool shadow = false) =>
        Assert.Single(journal.GetReport().Groups, g => g.Model == model && g.Symbol == symbol && g.Timeframe == timeframe && g.IsShadow == shadow);

    private static void Resolve(
        SignalJournal journal, string id, OutcomeKind kind, double r, string symbol = "BTCUSDT", Timeframe timeframe = Timeframe.OneHour)
    {
        var signal = Signal(id, symbol: symbol, timeframe: timeframe);
        journal.Track(signal, false);
        journal.Apply(Outcome(signal, kind, r));
    }

    private static Signal Signal(string id, IReadOnlyList<ModelVote>? models = null, string symbol = "BTCUSDT", Timeframe timeframe = Timeframe.OneHour) => new()
    {
        Id = id,
        Seq = 1,
        Symbol = symbol,
        Timeframe = timeframe,
        Direction = SignalDirection.Long,
        Confidence = 72,
        Probabilities = new ClassProbabilities(0.14, 0.14, 0.72),
        Entry = 100m,
        Target = 105m,
        Stop = 98m,
        RiskReward = 2.5,
        FusionScore = 80,
        Models = models ?? [LstmVote, PatchVote],
        Rationale = [],
        CandleOpenTime = 0,
        CandleCloseTime = 0,
        CreatedAt = 0,
        ExpiresAt = 0,
        ExchangeTime = 0,
        ReceivedAt = 0,
    };

    private static SignalOutcome Outcome(Signal signal, OutcomeKind kind, double r, bool isShadow = false) => new()
    {
        SignalId = signal.Id,
        SignalSeq = signal.Seq,
        Symbol = signal.Symbol,
        Timeframe = signal.Timeframe,
        Direction = signal.Direction,
        Outcome = kind,
        Entry = signal.Entry,
        ExitPrice = signal.Entry,
        RMultiple = r,
        ResolvedCandleOpenTime = 1,
        ResolvedAt = 1,
        Reason = "test",
        Models = signal.Models,
        IsShadow = isShadow,
    };
}
