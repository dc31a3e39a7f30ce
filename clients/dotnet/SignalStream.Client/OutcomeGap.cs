namespace SignalStream.Client;

/// <summary>Outcomes missed while the client was away that the server could not return (see <see cref="OutcomeGapException"/>).</summary>
/// <param name="Symbol">The symbol.</param>
/// <param name="AfterOutcomeSeq">The resume point the client sent: the last outcomeSeq it had delivered.</param>
/// <param name="LatestOutcomeSeq">The server's newest outcomeSeq when the subscription joined: live outcomes follow it.</param>
/// <param name="Reason">Why, as the server put it (past its resume limit, a node without a store, a store that kept lagging).</param>
public sealed record OutcomeGap(string Symbol, long AfterOutcomeSeq, long LatestOutcomeSeq, string Reason);

/// <summary>
/// Some outcomes of a symbol with <c>AfterOutcomeSeq &lt; outcomeSeq ≤ LatestOutcomeSeq</c> were resolved while the client
/// was away and will never reach <see cref="SignalHandlers.OnResolved"/>; the ones the server did return were delivered,
/// in order, and live outcomes follow from <c>LatestOutcomeSeq + 1</c>. Which ones are missing the client cannot tell (the
/// server returns outcomes filtered, so their outcomeSeqs have holes anyway): read them with
/// <see cref="SignalStreamApi.GetOutcomesAsync"/> after <c>AfterOutcomeSeq</c>, or treat every signal you hold as open
/// that was issued before the reconnect as possibly resolved.
/// </summary>
public sealed class OutcomeGapException(OutcomeGap gap)
    : Exception($"{gap.Symbol}: outcomes after outcomeSeq {gap.AfterOutcomeSeq} up to {gap.LatestOutcomeSeq} were missed and not all " +
        $"could be recovered (those recovered were delivered; live ones follow from {gap.LatestOutcomeSeq + 1}): {gap.Reason}")
{
    /// <summary>The resume point, the server's position, and why.</summary>
    public OutcomeGap Gap { get; } = gap;
}
