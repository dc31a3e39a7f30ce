using SignalStream.Contracts;

namespace SignalStream.Client.Internal;

/// <summary>What the outcomes of a <c>Subscribe</c> answer need next.</summary>
internal enum OutcomesNext
{
    /// <summary>Nothing: every outcome after the resume point was delivered.</summary>
    None,

    /// <summary>The server could not return them all yet: ask again with the same <c>afterOutcomeSeq</c> after a recovery delay.</summary>
    Retry,

    /// <summary>Live outcomes past the hold bound were not kept: subscribe again now from the last one delivered.</summary>
    Fill,
}

/// <summary>What one step of the outcome sequencer produced.</summary>
/// <param name="Deliveries">Outcomes to release to the application, each once, in outcomeSeq order.</param>
/// <param name="Gap">Set when the server could not return every outcome after the resume point and no retry is left.</param>
/// <param name="Next">What the answer needs next.</param>
internal readonly record struct OutcomeStep(IReadOnlyList<SignalOutcome> Deliveries, OutcomeGap? Gap = null, OutcomesNext Next = OutcomesNext.None)
{
    public static OutcomeStep Empty { get; } = new([]);
}

/// <summary>
/// Orders one symbol's outcomes for the application: once each, in outcomeSeq order, those resolved while the client was
/// reconnecting recovered with <c>afterOutcomeSeq</c>. The same rules as the TypeScript SDK's <c>SymbolChannel</c>
/// (clients/typescript/src/client.ts), so both clients behave alike on every server answer.
/// </summary>
/// <remarks>
/// Unlike seqs, the outcomeSeqs a subscription sees have holes (the server filters them like live ones), so a hole is
/// not a loss: the server's <c>outcomesRecovered</c> says whether one is missing. Outcomes with outcomeSeq 0 (servers
/// that do not number them) are de-duplicated by signal id and never held. Pure logic, no I/O, not thread-safe: the
/// owner serializes calls.
/// </remarks>
internal sealed class OutcomeSequencer(string symbol)
{
    /// <summary>
    /// The most live outcomes held while the outcomes before them are asked for (again). Past it the answer is taken as
    /// final, and the outcomes not held, all after the held ones, are asked for from the last one delivered.
    /// </summary>
    public const int MaxHeld = 4096;

    /// <summary>Signal ids of unnumbered outcomes delivered; bounded, as such a server never redelivers one.</summary>
    private const int MaxRemembered = 4096;

    private readonly HashSet<string> _seen = new(StringComparer.Ordinal);

    /// <summary>
    /// Live outcomes held from a resuming <c>Subscribe</c> until every outcome before them is delivered: while it is in
    /// flight, and while the outcomes it could not all return are asked for again. They are after the server's join
    /// point, so the recovered ones go first. Null when nothing is being resumed.
    /// </summary>
    private List<SignalOutcome>? _held;

    /// <summary>The connection the held outcomes came on: after a drop they are dropped too (the next answer covers them).</summary>
    private int _heldEpoch;

    /// <summary>More live outcomes came than are held: the next answer is taken as it is, then followed by a fill.</summary>
    private bool _heldOverflow;

    public string Symbol { get; } = symbol;

    /// <summary>
    /// The last outcomeSeq delivered, or the server's <c>latestOutcomeSeq</c> when none was since: the resume point of
    /// outcomes. Null before the first subscribe result.
    /// </summary>
    public long? LastOutcomeSeq { get; private set; }

    public int HeldCount => _held?.Count ?? 0;

    /// <summary>A live outcome: delivered at once, or held while a resume is under way.</summary>
    public OutcomeStep AcceptLive(SignalOutcome outcome)
    {
        if (outcome.IsShadow)
        {
            return OutcomeStep.Empty;
        }

        if (_held is not null && outcome.OutcomeSeq > 0)
        {
            // Past the bound one is not held: it comes after every held one, and a fill from the last delivered returns it.
            if (_held.Count < MaxHeld)
            {
                _held.Add(outcome);
            }
            else
            {
                _heldOverflow = true;
            }

            return OutcomeStep.Empty;
        }

        var deliveries = new List<SignalOutcome>(1);
        Deliver(outcome, deliveries);
        return new OutcomeStep(deliveries);
    }

    /// <summary>
    /// Call before invoking <c>Subscribe</c> on the connection <paramref name="epoch"/>; returns the <c>afterOutcomeSeq</c>
    /// to send (null for a first subscribe), and from then holds live outcomes when there is one.
    /// </summary>
    public long? BeginSubscribe(int epoch)
    {
        if (_held is not null && _heldEpoch != epoch)
        {
            // Held on a connection that dropped since: the node this Subscribe joins may be behind that one, and
            // delivering them first would skip the outcomes before them, which that node sends live afterwards.
            _held.Clear();
            _heldOverflow = false;
        }

        _heldEpoch = epoch;
        if (LastOutcomeSeq is not null)
        {
            _held ??= [];
        }

        return LastOutcomeSeq;
    }

    // No AbortSubscribe: when a Subscribe fails the held outcomes stay held, as the outcomes before them are still missing
    // and the next Subscribe asks for them (after a drop, BeginSubscribe drops them with the connection).

    /// <summary>
    /// The outcomes a <c>Subscribe</c> returned and the live ones held meanwhile, each once, in outcomeSeq order. When the
    /// server could not return every outcome after <paramref name="afterOutcomeSeq"/> and it is worth asking again with
    /// the same one (not <paramref name="final"/>, the hold not full), nothing is delivered, the live ones stay held and
    /// the resume point stays. On the final answer what came is delivered and the loss reported as an
    /// <see cref="OutcomeGap"/>.
    /// </summary>
    public OutcomeStep AcceptResult(SubscribeResult result, long? afterOutcomeSeq, bool final = true)
    {
        // Only outcomes after the resume point up to LatestOutcomeSeq can be missing (live ones follow it): with none in
        // between nothing is, whatever the flags say (a server that predates outcomeSeq answers 0 and ignores the point).
        var incomplete = afterOutcomeSeq is { } resumed && result.LatestOutcomeSeq > resumed && !OutcomesRecovered(result);
        var reset = afterOutcomeSeq is { } after && result.LatestOutcomeSeq < after;
        if (incomplete && !reset && !final && !_heldOverflow)
        {
            return OutcomeStep.Empty with { Next = OutcomesNext.Retry };
        }

        var arrived = result.Outcomes.Concat(_held ?? []).OrderBy(o => o.OutcomeSeq).ToList();
        var overflowed = _heldOverflow;
        _held = null;
        _heldOverflow = false;
        if (reset)
        {
            // The server's outcomes end before this client's position (its store was reset): continue from its position.
            LastOutcomeSeq = result.LatestOutcomeSeq;
        }

        var deliveries = new List<SignalOutcome>(arrived.Count);
        foreach (var outcome in arrived)
        {
            if (!outcome.IsShadow)
            {
                Deliver(outcome, deliveries);
            }
        }

        if (LastOutcomeSeq is not { } last || last < result.LatestOutcomeSeq)
        {
            // Nothing after LatestOutcomeSeq was sent on this connection; what came before was delivered already, not
            // asked for, or is reported missing below.
            LastOutcomeSeq = result.LatestOutcomeSeq;
        }

        var gap = incomplete && !reset
            ? new OutcomeGap(Symbol, afterOutcomeSeq!.Value, result.LatestOutcomeSeq, result.Reason ?? "the server could not recover these outcomes")
            : null;
        return new OutcomeStep(deliveries, gap, overflowed ? OutcomesNext.Fill : OutcomesNext.None);
    }

    /// <summary>
    /// Whether the answer holds every outcome after <c>afterOutcomeSeq</c>. A server that predates
    /// <c>outcomesRecovered</c> leaves it (and <c>signalsRecovered</c>) at the default, true, while its <c>recovered</c>
    /// says false: both true with <c>recovered</c> false is such a server, whose <c>recovered</c> is the only safe reading.
    /// </summary>
    internal static bool OutcomesRecovered(SubscribeResult result) =>
        result.OutcomesRecovered && (result.Recovered || !result.SignalsRecovered);

    /// <summary>Adds an outcome not delivered before: by outcomeSeq, or by signal id from a server that does not number them.</summary>
    private void Deliver(SignalOutcome outcome, List<SignalOutcome> deliveries)
    {
        if (outcome.OutcomeSeq > 0)
        {
            if (LastOutcomeSeq is { } last && outcome.OutcomeSeq <= last)
            {
                return;
            }

            LastOutcomeSeq = outcome.OutcomeSeq;
        }
        else
        {
            if (!_seen.Add(outcome.SignalId))
            {
                return;
            }

            if (_seen.Count > MaxRemembered)
            {
                _seen.Clear();
                _seen.Add(outcome.SignalId);
            }
        }

        deliveries.Add(outcome);
    }
}
