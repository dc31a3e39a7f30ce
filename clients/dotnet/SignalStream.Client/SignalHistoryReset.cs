namespace SignalStream.Client;

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
