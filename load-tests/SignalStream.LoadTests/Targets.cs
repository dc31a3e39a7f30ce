namespace SignalStream.LoadTests;

/// <summary>The servers a run measures: SignalStream and the peers it is compared with (load-tests/README.md).</summary>
internal static class Targets
{
    public const string SignalStream = "signalstream";

    /// <summary>ASP.NET Core SignalR with the official Redis backplane (<c>load-tests/peer-signalr</c>).</summary>
    public const string SignalR = "signalr";

    /// <summary>Socket.IO with its Redis adapter (<c>load-tests/peer-socketio</c>).</summary>
    public const string SocketIo = "socketio";

    public static readonly string[] All = [SignalStream, SignalR, SocketIo];

    public static bool IsPeer(string target) => target != SignalStream;

    /// <summary>The name reports use.</summary>
    public static string Name(string target) => target switch
    {
        SignalStream => "SignalStream",
        SignalR => "SignalR peer",
        SocketIo => "Socket.IO peer",
        _ => target,
    };
}
