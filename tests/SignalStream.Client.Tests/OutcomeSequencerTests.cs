using SignalStream.Client;
using SignalStream.Client.Internal;
using SignalStream.Contracts;
using SignalStream.Testing;

namespace SignalStream.Client.Tests;

public sealed class OutcomeSequencerTests
{
    private const string Symbol = "BTCUSDT";

    [Fact]
    public void AFirstSubscribeSendsNoResumePointAndTheNextResumesFromTheServersLatest()
    {
        var sequencer = new OutcomeSequencer(Symbol);
        Assert.Null(sequencer.BeginSubscribe(epoch: 0));
        Assert.Equal([4L], Seqs(sequencer.AcceptLive(Outcome(4)))); // nothing to resume yet: live ones go straight through

        var step = sequencer.AcceptResult(Result(latestOutcomeSeq: 3), afterOutcomeSeq: null);

        Assert.Empty(step.Deliveries);
        Assert.Equal(4, sequencer.LastOutcomeSeq);
        Assert.Equal(4, sequencer.BeginSubscribe(epoch: 1));
    }

    [Fact]
    public void AResumeDeliversTheOutcomesMissedWhileAwayOnceEachInOrder()
    {
        var sequencer = Established(latestOutcomeSeq: 3);
        Assert.Equal([4L], Seqs(sequencer.AcceptLive(Outcome(4))));
        Assert.Equal(4, sequencer.BeginSubscribe(epoch: 1));

        // 4 was delivered live before the drop; 6 is missing from the answer, filtered out by the server: a hole, not a loss.
        var step = sequencer.AcceptResult(Result(latestOutcomeSeq: 8, Outcome(4), Outcome(5), Outcome(7), Outcome(8)), afterOutcomeSeq: 4);

        Assert.Equal([5L, 7L, 8L], Seqs(step));
        Assert.Null(step.Gap);
        Assert.Equal(OutcomesNext.None, step.Next);
        Assert.Equal(8, sequencer.LastOutcomeSeq);
        Assert.Empty(sequencer.AcceptLive(Outcome(8)).Deliveries);
        Assert.Equal([9L], Seqs(sequencer.AcceptLive(Outcome(9))));
    }

    [Fact]
    public void LiveOutcomesArrivingDuringTheResumeAreHeldAndDeliveredAfterTheAnswersOnes()
    {
        var sequencer = Established(latestOutcomeSeq: 3);
        Assert.Equal(3, sequencer.BeginSubscribe(epoch: 1));
        Assert.Empty(sequencer.AcceptLive(Outcome(6)).Deliveries);
        Assert.Empty(sequencer.AcceptLive(Outcome(7)).Deliveries);
        Assert.Equal(2, sequencer.HeldCount);

        // The answer overlaps the held ones (the node joined the live stream at 6): each still comes once.
        var step = sequencer.AcceptResult(Result(latestOutcomeSeq: 6, Outcome(4), Outcome(5), Outcome(6)), afterOutcomeSeq: 3);

        Assert.Equal([4L, 5L, 6L, 7L], Seqs(step));
        Assert.Equal(0, sequencer.HeldCount);
        Assert.Equal([8L], Seqs(sequencer.AcceptLive(Outcome(8)))); // the resume is over: live ones go straight through again
    }

    [Fact]
    public void AShortAnswerIsAskedForAgainAndOnTheFinalOneWhatCameIsDeliveredAndTheLossReported()
    {
        var sequencer = Established(latestOutcomeSeq: 3);
        Assert.Equal(3, sequencer.BeginSubscribe(epoch: 1));
        sequencer.AcceptLive(Outcome(10));

        var first = sequencer.AcceptResult(Short(latestOutcomeSeq: 9, Outcome(4)), afterOutcomeSeq: 3, final: false);

        Assert.Equal(OutcomesNext.Retry, first.Next);
        Assert.Empty(first.Deliveries); // delivering 4 now would move the resume point past 5..9, still missing
        Assert.Null(first.Gap);
        Assert.Equal(3, sequencer.LastOutcomeSeq);
        Assert.Equal(3, sequencer.BeginSubscribe(epoch: 1)); // the same resume point again, the live one still held
        Assert.Empty(sequencer.AcceptLive(Outcome(11)).Deliveries);

        var last = sequencer.AcceptResult(Short(latestOutcomeSeq: 9, Outcome(4), Outcome(6)), afterOutcomeSeq: 3, final: true);

        Assert.Equal([4L, 6L, 10L, 11L], Seqs(last));
        Assert.Equal(new OutcomeGap(Symbol, 3, 9, "outcomes past the resume limit"), last.Gap);
        Assert.Equal(OutcomesNext.None, last.Next);
        Assert.Equal(11, sequencer.LastOutcomeSeq);
    }

    [Fact]
    public void AShortAnswerFollowedByAFullOneReportsNoLoss()
    {
        var sequencer = Established(latestOutcomeSeq: 3);
        sequencer.BeginSubscribe(epoch: 1);
        Assert.Equal(OutcomesNext.Retry, sequencer.AcceptResult(Short(latestOutcomeSeq: 5, Outcome(4)), afterOutcomeSeq: 3, final: false).Next);
        sequencer.BeginSubscribe(epoch: 1);

        var step = sequencer.AcceptResult(Result(latestOutcomeSeq: 5, Outcome(4), Outcome(5)), afterOutcomeSeq: 3, final: false);

        Assert.Equal([4L, 5L], Seqs(step));
        Assert.Null(step.Gap);
    }

    [Fact]
    public void AServerWhoseOutcomesEndBeforeTheClientsPositionIsFollowedFromItsOwn()
    {
        var sequencer = Established(latestOutcomeSeq: 10);
        Assert.Equal(10, sequencer.BeginSubscribe(epoch: 1));
        sequencer.AcceptLive(Outcome(4));

        // Its store was reset: not a loss to retry, the outcomes from its position on are its own.
        var step = sequencer.AcceptResult(Short(latestOutcomeSeq: 3), afterOutcomeSeq: 10, final: false);

        Assert.Equal(OutcomesNext.None, step.Next);
        Assert.Null(step.Gap);
        Assert.Equal([4L], Seqs(step));
        Assert.Equal(4, sequencer.LastOutcomeSeq);
    }

    [Fact]
    public void OutcomesHeldOnAConnectionThatDroppedAreLeftToTheNextNode()
    {
        var sequencer = Established(latestOutcomeSeq: 3);
        sequencer.BeginSubscribe(epoch: 1);
        sequencer.AcceptLive(Outcome(6));

        // The Subscribe failed with the connection; the node the next one joins sends 6 again, live, after 4 and 5.
        Assert.Equal(3, sequencer.BeginSubscribe(epoch: 2));
        var step = sequencer.AcceptResult(Result(latestOutcomeSeq: 5, Outcome(4), Outcome(5)), afterOutcomeSeq: 3);

        Assert.Equal([4L, 5L], Seqs(step));
        Assert.Equal([6L], Seqs(sequencer.AcceptLive(Outcome(6))));
    }

    [Fact]
    public void PastTheHoldBoundTheAnswerIsTakenAsFinalAndFollowedByAFill()
    {
        var sequencer = Established(latestOutcomeSeq: 3);
        sequencer.BeginSubscribe(epoch: 1);
        for (var seq = 10; seq < 10 + OutcomeSequencer.MaxHeld + 1; seq++)
        {
            sequencer.AcceptLive(Outcome(seq));
        }

        var step = sequencer.AcceptResult(Short(latestOutcomeSeq: 9, Outcome(4)), afterOutcomeSeq: 3, final: false);

        Assert.Equal(OutcomesNext.Fill, step.Next);
        Assert.Equal(1 + OutcomeSequencer.MaxHeld, step.Deliveries.Count);
        Assert.NotNull(step.Gap);
        Assert.Equal(10 + OutcomeSequencer.MaxHeld - 1, sequencer.LastOutcomeSeq); // the fill asks from the last held one
    }

    [Fact]
    public void UnnumberedOutcomesAreDeduplicatedBySignalIdAndNeverHeld()
    {
        var sequencer = Established(latestOutcomeSeq: 0);
        sequencer.BeginSubscribe(epoch: 1);
        var outcome = TestSignals.Outcome(TestSignals.Signal(Symbol, 1));

        Assert.Single(sequencer.AcceptLive(outcome).Deliveries);
        Assert.Empty(sequencer.AcceptLive(outcome).Deliveries);
        Assert.Empty(sequencer.AcceptLive(TestSignals.Outcome(TestSignals.Signal(Symbol, 2), shadow: true)).Deliveries);
    }

    [Fact]
    public void AServerThatPredatesOutcomeSeqIsNotReportedAsLosingOutcomes()
    {
        // It ignores afterOutcomeSeq, answers 0 as its latest, and recovered: false for its signals alone.
        var sequencer = Established(latestOutcomeSeq: 0);
        Assert.Equal(0, sequencer.BeginSubscribe(epoch: 1));

        var step = sequencer.AcceptResult(Result(latestOutcomeSeq: 0) with { Recovered = false }, afterOutcomeSeq: 0, final: true);

        Assert.Null(step.Gap);
        Assert.Equal(OutcomesNext.None, step.Next);
    }

    [Fact]
    public void AnAnswerFromAServerWithoutTheSplitFlagsReadsItsRecoveredForTheOutcomes()
    {
        var sequencer = Established(latestOutcomeSeq: 3);
        sequencer.BeginSubscribe(epoch: 1);

        // SignalsRecovered and OutcomesRecovered absent (true), recovered false: the outcomes may be short.
        var step = sequencer.AcceptResult(Result(latestOutcomeSeq: 5, Outcome(4)) with { Recovered = false }, afterOutcomeSeq: 3, final: false);

        Assert.Equal(OutcomesNext.Retry, step.Next);
    }

    private static OutcomeSequencer Established(long latestOutcomeSeq)
    {
        var sequencer = new OutcomeSequencer(Symbol);
        sequencer.BeginSubscribe(epoch: 0);
        sequencer.AcceptResult(Result(latestOutcomeSeq), afterOutcomeSeq: null);
        return sequencer;
    }

    private static SignalOutcome Outcome(long outcomeSeq) =>
        TestSignals.Outcome(TestSignals.Signal(Symbol, outcomeSeq), outcomeSeq: outcomeSeq);

    private static long[] Seqs(OutcomeStep step) => [.. step.Deliveries.Select(o => o.OutcomeSeq)];

    private static SubscribeResult Result(long latestOutcomeSeq, params SignalOutcome[] outcomes) =>
        new(Symbol, ["1m"], 0, true, []) { LatestOutcomeSeq = latestOutcomeSeq, Outcomes = outcomes };

    /// <summary>An answer whose signals were all recovered and whose outcomes were not, as the server says it today.</summary>
    private static SubscribeResult Short(long latestOutcomeSeq, params SignalOutcome[] outcomes) =>
        Result(latestOutcomeSeq, outcomes) with { Recovered = false, OutcomesRecovered = false, Reason = "outcomes past the resume limit" };
}
