using SignalStream.Contracts;

namespace SignalStream.Client;

/// <summary>How a signal reached the application.</summary>
public enum SignalSource
{
    /// <summary>The latest signal per timeframe, returned by the first subscribe (older than the live stream).</summary>
    Snapshot,

    /// <summary>Missed while disconnected or lost in a hole, recovered from the server's store with <c>afterSeq</c>.</summary>
    Recovered,

    /// <summary>Pushed live.</summary>
    Live,
}

/// <summary>A signal released to the application, in seq order.</summary>
public readonly record struct SignalDelivery(Signal Signal, SignalSource Source);

/// <summary>Seqs the server could not return: the application will never see these signals.</summary>
/// <param name="Symbol">The symbol.</param>
/// <param name="From">First missing seq.</param>
/// <param name="To">Last missing seq (inclusive).</param>
/// <param name="Reason">Why, as the server or the client put it.</param>
public sealed record SignalGap(string Symbol, long From, long To, string Reason);

/// <summary>Missed signals the server could not return (beyond its recovery bound, or its store was reset).</summary>
public sealed class SignalGapException(SignalGap gap)
    : Exception($"{gap.Symbol}: signals {gap.From}..{gap.To} were missed and could not be recovered: {gap.Reason}")
{
    /// <summary>The seqs that were lost, and why.</summary>
    public SignalGap Gap { get; } = gap;
}

/// <summary>
/// The server's history of a symbol ends before the client's position: its store was reset, or the position came from
/// another deployment. The client's position becomes <paramref name="LatestSeq"/>; the server's signals after it follow.
/// </summary>
/// <param name="Symbol">The symbol.</param>
/// <param name="PreviousSeq">The client's last seq before the reset.</param>
/// <param name="LatestSeq">The server's newest seq: the client's position from now on.</param>
/// <param name="Reason">Why, as the server or the client put it.</param>
public sealed record SignalHistoryReset(string Symbol, long PreviousSeq, long LatestSeq, string Reason);

/// <summary>
/// The server's history ends before the client's position (<see cref="SignalHistoryReset"/>): signals the application
/// holds with a seq after <see cref="SignalHistoryReset.LatestSeq"/> are not the server's and should be dropped.
/// </summary>
public sealed class SignalHistoryResetException(SignalHistoryReset reset)
    : Exception($"{reset.Symbol}: the server's signals end at seq {reset.LatestSeq}, before this client's seq {reset.PreviousSeq}; " +
        $"continuing from seq {reset.LatestSeq + 1}: {reset.Reason}")
{
    /// <summary>The positions before and after, and why.</summary>
    public SignalHistoryReset Reset { get; } = reset;
}

/// <summary>The server refused a subscription (unknown symbol, not entitled, a limit); the message is the server's.</summary>
public sealed class SubscriptionRefusedException(string symbol, string message, Exception? inner = null) : Exception(message, inner)
{
    /// <summary>The symbol whose subscription was refused.</summary>
    public string Symbol { get; } = symbol;
}
