using FsCheck;
using FsCheck.Fluent;
using SignalStream.Client;
using SignalStream.Client.Internal;
using SignalStream.Contracts;
using SignalStream.Testing;

namespace SignalStream.Client.Tests;

public sealed class SignalSequencerTests
{
    private const string Symbol = "BTCUSDT";

    [Fact]
    public void FirstSubscribeReleasesTheSnapshotAndThenLiveSignalsInOrder()
    {
        var sequencer = new SignalSequencer(Symbol);
        Assert.Null(sequencer.BeginSubscribe());
        Assert.Empty(sequencer.AcceptLive(TestSignals.Signal(Symbol, 6)).Deliveries); // held while the subscribe is in flight

        var step = sequencer.AcceptResult(Result(latest: 5, recovered: true, TestSignals.Signal(Symbol, 5)), afterSeq: null);

        Assert.Equal([(5L, SignalSource.Snapshot), (6L, SignalSource.Live)], Seqs(step));
        Assert.Equal(6, sequencer.LastSeq);
    }

    [Fact]
    public void LiveDuplicatesAreDroppedAndAHoleAsksForAFill()
    {
        var sequencer = Established(latest: 3);

        Assert.Equal([(4L, SignalSource.Live)], Seqs(sequencer.AcceptLive(TestSignals.Signal(Symbol, 4))));
        Assert.Empty(sequencer.AcceptLive(TestSignals.Signal(Symbol, 4)).Deliveries);
        var ahead = sequencer.AcceptLive(TestSignals.Signal(Symbol, 6));

        Assert.Empty(ahead.Deliveries);
        Assert.True(ahead.NeedsFill);
        Assert.Equal(4, sequencer.LastSeq);
    }

    [Fact]
    public void AResumeFillsTheHoleBeforeTheHeldLiveSignals()
    {
        var sequencer = Established(latest: 3);
        sequencer.AcceptLive(TestSignals.Signal(Symbol, 6));
        Assert.Equal(3, sequencer.BeginSubscribe());

        var step = sequencer.AcceptResult(Result(latest: 6, recovered: true, TestSignals.Signal(Symbol, 4), TestSignals.Signal(Symbol, 5), TestSignals.Signal(Symbol, 6)), afterSeq: 3);

        Assert.Equal([4L, 5L, 6L], Seqs(step).Select(s => s.Seq));
        Assert.Empty(step.Gaps);
        Assert.False(step.NeedsFill);
    }

    [Fact]
    public void AnIncompleteRecoveryReleasesTheContiguousRunAndAsksAgain()
    {
        var sequencer = Established(latest: 3);
        sequencer.BeginSubscribe();

        var step = sequencer.AcceptResult(Result(latest: 7, recovered: false, TestSignals.Signal(Symbol, 4), TestSignals.Signal(Symbol, 5)), afterSeq: 3, final: false);

        Assert.Equal([4L, 5L], Seqs(step).Select(s => s.Seq));
        Assert.True(step.NeedsRetry);
        Assert.Empty(step.Gaps);
        Assert.Equal(5, sequencer.LastSeq);
    }

    [Fact]
    public void AFinalIncompleteRecoveryReportsTheMissingSeqsAsAGapWithTheServersReason()
    {
        var sequencer = Established(latest: 3);
        sequencer.BeginSubscribe();

        var step = sequencer.AcceptResult(
            Result(latest: 7, recovered: false, TestSignals.Signal(Symbol, 4), TestSignals.Signal(Symbol, 7)) with { Reason = "history is unavailable" }, afterSeq: 3, final: true);

        Assert.Equal([4L, 7L], Seqs(step).Select(s => s.Seq));
        var gap = Assert.Single(step.Gaps);
        Assert.Equal((5L, 6L, "history is unavailable"), (gap.From, gap.To, gap.Reason));
        Assert.Equal(7, sequencer.LastSeq);
    }

    [Fact]
    public void AServerBehindTheClientIsAResetNotAGapAndTheClientFollowsTheServer()
    {
        var sequencer = Established(latest: 50);
        sequencer.BeginSubscribe();

        var step = sequencer.AcceptResult(Result(latest: 2, recovered: false) with { Reason = "the store was reset" }, afterSeq: 50);

        Assert.Empty(step.Gaps);
        Assert.Equal(new SignalHistoryReset(Symbol, 50, 2, "the store was reset"), step.Reset);
        Assert.Equal(2, sequencer.LastSeq);
        Assert.Equal([(3L, SignalSource.Live)], Seqs(sequencer.AcceptLive(TestSignals.Signal(Symbol, 3))));
    }

    [Fact]
    public void OutcomesFallingShortDoNotAskForTheSignalsAgain()
    {
        var sequencer = Established(latest: 3);
        sequencer.BeginSubscribe();

        // recovered is false because of the outcomes alone: every signal came, so no retry and no gap for them.
        var step = sequencer.AcceptResult(
            Result(latest: 5, recovered: false, TestSignals.Signal(Symbol, 4), TestSignals.Signal(Symbol, 5)) with { OutcomesRecovered = false },
            afterSeq: 3, final: false);

        Assert.Equal([4L, 5L], Seqs(step).Select(s => s.Seq));
        Assert.False(step.NeedsRetry);
        Assert.Empty(step.Gaps);
        Assert.Equal(5, sequencer.LastSeq);
    }

    [Fact]
    public void SignalsFallingShortAreAskedForAgainWhateverTheOutcomes()
    {
        var sequencer = Established(latest: 3);
        sequencer.BeginSubscribe();

        var step = sequencer.AcceptResult(
            Result(latest: 7, recovered: false, TestSignals.Signal(Symbol, 4)) with { SignalsRecovered = false }, afterSeq: 3, final: false);

        Assert.True(step.NeedsRetry);
        Assert.Equal(4, sequencer.LastSeq);
    }

    /// <summary>
    /// Whatever order live signals and resume results come in (with duplicates), what is released is exactly
    /// 1..N once each, in order: the property the client promises.
    /// </summary>
    [Fact]
    public void AnyInterleavingOfLiveAndRecoveredSignalsReleasesEachSeqOnceInOrder()
    {
        var property = Prop.ForAll(
            Arb.From(Gen.Choose(1, 40).SelectMany(n => Gen.ListOf(Gen.Choose(1, n)).Select(live => (n, live.ToArray())))),
            input =>
            {
                var (n, live) = input;
                var sequencer = new SignalSequencer(Symbol);
                sequencer.BeginSubscribe();
                var released = new List<long>();
                released.AddRange(Seqs(sequencer.AcceptResult(Result(latest: 0, recovered: true), afterSeq: null)).Select(s => s.Seq));
                foreach (var seq in live)
                {
                    var step = sequencer.AcceptLive(TestSignals.Signal(Symbol, seq));
                    released.AddRange(step.Deliveries.Select(d => d.Signal.Seq));
                    if (step.NeedsFill)
                    {
                        var after = sequencer.BeginSubscribe();
                        var all = Enumerable.Range(1, seq).Select(s => TestSignals.Signal(Symbol, s)).Where(s => s.Seq > after).ToArray();
                        released.AddRange(sequencer.AcceptResult(Result(seq, true, all), after).Deliveries.Select(d => d.Signal.Seq));
                    }
                }

                var final = sequencer.BeginSubscribe();
                var rest = Enumerable.Range(1, n).Select(s => TestSignals.Signal(Symbol, s)).Where(s => s.Seq > final).ToArray();
                released.AddRange(sequencer.AcceptResult(Result(n, true, rest), final).Deliveries.Select(d => d.Signal.Seq));
                return released.SequenceEqual(Enumerable.Range(1, n).Select(i => (long)i));
            });
        Check.One(Config.QuickThrowOnFailure.WithMaxTest(500), property);
    }

    private static SignalSequencer Established(long latest)
    {
        var sequencer = new SignalSequencer(Symbol);
        sequencer.BeginSubscribe();
        sequencer.AcceptResult(Result(latest, recovered: true), afterSeq: null);
        return sequencer;
    }

    private static (long Seq, SignalSource Source)[] Seqs(SequencerStep step) =>
        [.. step.Deliveries.Select(d => (d.Signal.Seq, d.Source))];

    private static SubscribeResult Result(long latest, bool recovered, params Signal[] signals) =>
        new(Symbol, ["1m"], latest, recovered, signals);
}
