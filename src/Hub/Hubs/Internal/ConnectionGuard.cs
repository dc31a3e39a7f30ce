using System.Net;
using SignalStream.Hub.FanOut;

namespace SignalStream.Hub.Hubs.Internal;

/// <summary>
/// What the node holds for one client connection from its connect request on, before SignalR has a connection for it:
/// its admission slot, its handshake deadline and its invocation budget; and, once the handshake is done, its
/// <see cref="ConnectionState"/>.
/// </summary>
/// <remarks>
/// The admission middleware makes one per connect request and sets it as <see cref="Current"/>. SignalR runs the
/// connection (handshake, <c>OnConnectedAsync</c>, the parsing of every message) on a task started from that request,
/// which inherits the value: that is how <see cref="ConnectionRegistry.Add"/> and <see cref="GuardedHubProtocol"/>,
/// which SignalR calls with no reference to the HTTP request, find the connection they work for.
/// </remarks>
internal sealed class ConnectionGuard(InvocationBudget budget, HttpContext? request, IPAddress? remoteIp, string? subject)
{
    private static readonly AsyncLocal<ConnectionGuard?> s_current = new();
    private ConnectionAdmission.Slot? _slot;
    private ConnectionState? _state;
    private ITimer? _handshakeDeadline;
    private int _handshake; // 0 pending, 1 done, 2 timed out

    /// <summary>The guard of the connection this code runs for, if any.</summary>
    public static ConnectionGuard? Current
    {
        get => s_current.Value;
        set => s_current.Value = value;
    }

    public InvocationBudget Budget { get; } = budget;

    /// <summary>The connect request (WebSockets, Server-Sent Events), which is aborted when the handshake runs late.</summary>
    public HttpContext? Request { get; } = request;

    /// <summary>The client's address, for <c>Hub:MaxConnectionsPerIp</c>; null when unknown.</summary>
    public IPAddress? RemoteIp { get; } = remoteIp;

    /// <summary>The token's subject, for <c>Hub:MaxConnectionsPerSubject</c>; null without one.</summary>
    public string? Subject { get; } = subject;

    /// <summary>True when the slot was granted at the handshake (no connect request holds it), so it is given back when
    /// the connection is removed rather than when a request ends.</summary>
    public bool ReleasesOnRemove { get; set; }

    /// <summary>The connection once SignalR has accepted its handshake; null before.</summary>
    public ConnectionState? State => Volatile.Read(ref _state);

    /// <summary>The admission slot this connection holds, if one was granted.</summary>
    public ConnectionAdmission.Slot? Slot
    {
        get => Volatile.Read(ref _slot);
        set => Volatile.Write(ref _slot, value);
    }

    /// <summary>Holds the timer that enforces the handshake deadline until the handshake is done or the request ends.</summary>
    public void WatchHandshake(ITimer deadline) => Volatile.Write(ref _handshakeDeadline, deadline);

    /// <summary>Disposes the deadline's timer, and lets it go: a timer kept by a connection's request for the
    /// connection's whole life is about 0.2 KB a connection, for a deadline that has passed.</summary>
    public void StopWatchingHandshake() => Interlocked.Exchange(ref _handshakeDeadline, null)?.Dispose();

    /// <summary>The handshake is done: the connection is <paramref name="state"/> from now on.</summary>
    public void Registered(ConnectionState state)
    {
        Volatile.Write(ref _state, state);
        Interlocked.CompareExchange(ref _handshake, 1, 0);
        StopWatchingHandshake();
    }

    /// <summary>True when the handshake was not done yet, and now never counts as done in time (the request is being
    /// aborted); false when it was done first.</summary>
    public bool TryExpireHandshake() => Interlocked.CompareExchange(ref _handshake, 2, 0) == 0;
}
