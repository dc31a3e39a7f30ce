namespace SignalStream.Client;

/// <summary>Seqs the server could not return: the application will never see these signals.</summary>
/// <param name="Symbol">The symbol.</param>
/// <param name="From">First missing seq.</param>
/// <param name="To">Last missing seq (inclusive).</param>
/// <param name="Reason">Why, as the server or the client put it.</param>
public sealed record SignalGap(string Symbol, long From, long To, string Reason);

/// <summary>
/// Missed signals the server could not return (beyond its recovery bound, or its store was reset); those still stored
/// are a page of <see cref="SignalStreamApi.GetSignalsAsync"/> after <c>From - 1</c> away.
/// </summary>
public sealed class SignalGapException(SignalGap gap)
    : Exception($"{gap.Symbol}: signals {gap.From}..{gap.To} were missed and could not be recovered: {gap.Reason}")
{
    /// <summary>The seqs that were lost, and why.</summary>
    public SignalGap Gap { get; } = gap;
}
