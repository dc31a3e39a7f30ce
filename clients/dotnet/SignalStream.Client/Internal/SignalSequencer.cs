using SignalStream.Contracts;

namespace SignalStream.Client.Internal;

/// <summary>What one step of the sequencer produced.</summary>
/// <param name="Deliveries">Signals to release to the application, in seq order.</param>
/// <param name="Gaps">Seqs the server could not return.</param>
/// <param name="NeedsFill">A later seq arrived before an earlier one: re-subscribe with <c>afterSeq = LastSeq</c>.</param>
/// <param name="NeedsRetry">The server could not return everything yet (<c>signalsRecovered: false</c>): ask again later.</param>
/// <param name="Reset">Set when the server's history ends before the client's position.</param>
internal readonly record struct SequencerStep(
    IReadOnlyList<SignalDelivery> Deliveries,
    IReadOnlyList<SignalGap> Gaps,
    bool NeedsFill,
    bool NeedsRetry = false,
    SignalHistoryReset? Reset = null)
{
    public static SequencerStep Empty { get; } = new([], [], false);
}

/// <summary>
/// Orders one symbol's signals for the application: no gap, no duplicate, seq order. The same rules as the TypeScript
/// SDK's sequencer (clients/typescript/src/sequencer.ts), so both clients behave alike on every server answer.
/// </summary>
/// <remarks>
/// The server's per-symbol seq is contiguous from 1, so <c>LastSeq + 1</c> is always the next signal to release. Live
/// signals that arrive while a subscribe is in flight, or ahead of a hole, wait in a bounded pending set; a subscribe
/// result is authoritative for every seq up to its <c>latestSeq</c>. Pure logic, no I/O, not thread-safe: the owner
/// serializes calls.
/// </remarks>
internal sealed class SignalSequencer(string symbol)
{
    /// <summary>The most live signals held back while a hole is filled; past it they are dropped and refetched.</summary>
    public const int MaxPending = 10_000;

    private readonly SortedDictionary<long, SignalDelivery> _pending = [];
    private bool _awaiting;

    public string Symbol { get; } = symbol;

    /// <summary>The last seq released (or skipped as unrecoverable); null before the first subscribe result.</summary>
    public long? LastSeq { get; private set; }

    public int PendingCount => _pending.Count;

    /// <summary>Call before invoking <c>Subscribe</c>; returns the <c>afterSeq</c> to send (null for a first subscribe).</summary>
    public long? BeginSubscribe()
    {
        _awaiting = true;
        return LastSeq;
    }

    /// <summary>Call when a <c>Subscribe</c> failed: live signals are released again as far as they are contiguous.</summary>
    public SequencerStep AbortSubscribe()
    {
        _awaiting = false;
        return Drain([], []);
    }

    public SequencerStep AcceptLive(Signal signal)
    {
        if (LastSeq is { } last && signal.Seq <= last)
        {
            return SequencerStep.Empty; // already released, or older than what a subscribe result covered
        }

        if (_pending.Count < MaxPending)
        {
            _pending.TryAdd(signal.Seq, new SignalDelivery(signal, SignalSource.Live));
        }

        return _awaiting || LastSeq is null ? SequencerStep.Empty : Drain([], []);
    }

    /// <summary>
    /// Feeds the result of the <c>Subscribe</c> that <see cref="BeginSubscribe"/> prepared, with the <c>afterSeq</c> it
    /// sent. A result whose signals were not all recovered (<c>signalsRecovered: false</c>) is released only as far as
    /// it is contiguous and asks for a retry; with <paramref name="final"/> set (retries exhausted) the missing seqs are
    /// reported as gaps and skipped.
    /// </summary>
    public SequencerStep AcceptResult(SubscribeResult result, long? afterSeq, bool final = true)
    {
        _awaiting = false;
        var deliveries = new List<SignalDelivery>();
        var gaps = new List<SignalGap>();
        var returned = result.Signals.OrderBy(s => s.Seq).ToList();

        if (afterSeq is null || LastSeq is null)
        {
            // First subscribe: the latest signal per timeframe, a snapshot rather than a contiguous run.
            foreach (var signal in returned)
            {
                deliveries.Add(new SignalDelivery(signal, SignalSource.Snapshot));
            }

            LastSeq = Math.Max(result.LatestSeq, returned.Count > 0 ? returned[^1].Seq : 0);
            return Drain(deliveries, gaps);
        }

        var last = LastSeq.Value;
        if (result.LatestSeq < last)
        {
            // Not a gap: the seqs after LatestSeq will be used again, for other signals. The server says so with
            // recovered: false and a reason; an older server answered recovered: true, which means the same here. Live
            // signals held while the subscribe was in flight are the server's from LatestSeq + 1 on: they stay.
            var reset = new SignalHistoryReset(Symbol, last, result.LatestSeq,
                result.Reason ?? $"the server's latest seq {result.LatestSeq} is behind the client's {last}: its store was reset");
            LastSeq = result.LatestSeq;
            RemovePendingUpTo(result.LatestSeq);
            return Drain(deliveries, gaps) with { Reset = reset };
        }

        foreach (var signal in returned)
        {
            if (signal.Seq > last && _pending.Count < MaxPending)
            {
                _pending[signal.Seq] = new SignalDelivery(signal, SignalSource.Recovered);
            }
        }

        // SignalsRecovered, not Recovered: this client sends afterOutcomeSeq, and Recovered is false too when only the
        // outcomes fell short, which must not ask for the signals again (SignalsRecovered reads older servers too).
        var recovered = SignalsRecovered(result);
        if (!recovered && !final)
        {
            return Drain(deliveries, gaps) with { NeedsFill = false, NeedsRetry = true };
        }

        var expected = last + 1;
        while (expected <= result.LatestSeq)
        {
            if (_pending.Remove(expected, out var held))
            {
                deliveries.Add(held);
                expected++;
                continue;
            }

            var next = NextHeld(expected, result.LatestSeq);
            gaps.Add(new SignalGap(Symbol, expected, next - 1, recovered
                ? "the server reported full recovery but did not return these seqs"
                : result.Reason ?? "the server could not recover these signals"));
            expected = next;
        }

        LastSeq = expected - 1;
        return Drain(deliveries, gaps);
    }

    /// <summary>
    /// Whether the answer holds every signal after <c>afterSeq</c>. A server that predates <c>signalsRecovered</c> leaves it
    /// (and <c>outcomesRecovered</c>) at the default, true, even when its signals were not all recovered: both true with
    /// <c>recovered</c> false is such a server, whose <c>recovered</c> is then the only safe reading.
    /// </summary>
    internal static bool SignalsRecovered(SubscribeResult result) =>
        result.SignalsRecovered && (result.Recovered || !result.OutcomesRecovered);

    private SequencerStep Drain(List<SignalDelivery> deliveries, List<SignalGap> gaps)
    {
        if (LastSeq is not { } last)
        {
            return new SequencerStep(deliveries, gaps, false);
        }

        RemovePendingUpTo(last);
        while (_pending.Remove(last + 1, out var next))
        {
            deliveries.Add(next);
            last++;
        }

        LastSeq = last;
        return new SequencerStep(deliveries, gaps, _pending.Count > 0 && !_awaiting);
    }

    private void RemovePendingUpTo(long seq)
    {
        while (_pending.Count > 0)
        {
            var first = _pending.Keys.First();
            if (first > seq)
            {
                return;
            }

            _pending.Remove(first);
        }
    }

    private long NextHeld(long from, long latest)
    {
        foreach (var seq in _pending.Keys)
        {
            if (seq > from)
            {
                return Math.Min(seq, latest + 1);
            }
        }

        return latest + 1;
    }
}
