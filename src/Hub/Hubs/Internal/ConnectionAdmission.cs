using System.Net;
using Microsoft.Extensions.Options;
using SignalStream.Hub.Auth;

namespace SignalStream.Hub.Hubs.Internal;

/// <summary>Which cap refused a connection.</summary>
internal enum AdmissionRefusal
{
    None,

    /// <summary><c>Hub:MaxConnections</c>: the node is full.</summary>
    Full,

    /// <summary><c>Hub:MaxConnectionsPerIp</c> (an IPv6 client by its /64).</summary>
    PerIp,

    /// <summary><c>Hub:MaxConnectionsPerSubject</c>.</summary>
    PerSubject,
}

/// <summary>
/// Counts the connections this node holds against its caps (<c>Hub:MaxConnections</c>, <c>Hub:MaxConnectionsPerIp</c>,
/// <c>Hub:MaxConnectionsPerSubject</c>) from the connect request on, and drops those whose handshake runs past
/// <c>Hub:HandshakeTimeout</c> (SignalR's own handshake timeout, set to twice it, is the backstop for long polling).
/// </summary>
/// <remarks>
/// A WebSocket (or Server-Sent Events) connection takes its slot when its request arrives, before the upgrade, and gives
/// it back when that request ends: an upgrade that never finishes the SignalR handshake holds a socket, buffers and a
/// task, so it counts like any connection (before, 200 such upgrades were accepted with <c>Hub:MaxConnections=3</c>).
/// Long polling has no request that lasts; its connections take their slot at the handshake and give it back when
/// SignalR removes them. Addresses are counted by <see cref="ClientKeys.AddressOf(IPAddress?)"/>, the REST limiter's
/// rule: an IPv6 host holds a whole /64, and counted by its full address it passed the per-address cap with every
/// connection.
/// </remarks>
internal sealed partial class ConnectionAdmission(
    IOptions<SignalHubOptions> options,
    HubMetrics metrics,
    TimeProvider time,
    ILogger<ConnectionAdmission> logger)
{
    private readonly SignalHubOptions _options = options.Value;
    private readonly Lock _gate = new();
    private readonly Dictionary<IPAddress, int> _perIp = [];
    private readonly Dictionary<string, int> _perSubject = new(StringComparer.Ordinal);
    private int _open;

    /// <summary>Slots held now: connections, including those still upgrading or in their handshake.</summary>
    public int Open => Volatile.Read(ref _open);

    /// <summary>Which cap a new connection from <paramref name="ip"/> and <paramref name="subject"/> would pass, without
    /// taking a slot (for negotiate, which SignalR answers before the client connects).</summary>
    public AdmissionRefusal Check(IPAddress? ip, string? subject)
    {
        var client = ClientKeys.AddressOf(ip);
        lock (_gate)
        {
            return Refusal(client, subject);
        }
    }

    /// <summary>Takes a slot, or says which cap refuses one.</summary>
    public AdmissionRefusal TryAdmit(IPAddress? ip, string? subject, out Slot? slot)
    {
        var client = ClientKeys.AddressOf(ip);
        lock (_gate)
        {
            var refusal = Refusal(client, subject);
            if (refusal != AdmissionRefusal.None)
            {
                slot = null;
                metrics.ConnectionRefused(refusal);
                return refusal;
            }

            _open++;
            if (client is not null && _options.MaxConnectionsPerIp > 0)
            {
                _perIp[client] = _perIp.GetValueOrDefault(client) + 1;
            }

            if (subject is not null && _options.MaxConnectionsPerSubject > 0)
            {
                _perSubject[subject] = _perSubject.GetValueOrDefault(subject) + 1;
            }

            slot = new Slot(this, client, subject);
            return AdmissionRefusal.None;
        }
    }

    /// <summary>What the client is told for a refusal: which cap, and what to do.</summary>
    public string Describe(AdmissionRefusal refusal) => refusal switch
    {
        AdmissionRefusal.Full => $"This node serves at most {_options.MaxConnections} connections and is full; retry later or connect to another node.",
        AdmissionRefusal.PerIp => $"Your address already holds {_options.MaxConnectionsPerIp} connections to this node (Hub:MaxConnectionsPerIp); close one before opening another.",
        AdmissionRefusal.PerSubject => $"Your token's subject already holds {_options.MaxConnectionsPerSubject} connections to this node (Hub:MaxConnectionsPerSubject); close one before opening another.",
        _ => "Admitted.",
    };

    /// <summary>
    /// Aborts <paramref name="guard"/>'s connect request unless its SignalR handshake is done within
    /// <c>Hub:HandshakeTimeout</c> of now: an upgrade that never speaks, or one that stalls in its handshake, holds a slot
    /// and a socket for nothing. Dispose the timer when the request ends.
    /// </summary>
    public ITimer WatchHandshake(ConnectionGuard guard) =>
        time.CreateTimer(static state =>
        {
            var (admission, guard) = ((ConnectionAdmission, ConnectionGuard))state!;
            admission.HandshakeOverdue(guard);
        }, (this, guard), _options.HandshakeTimeout, Timeout.InfiniteTimeSpan);

    private void HandshakeOverdue(ConnectionGuard guard)
    {
        if (!guard.TryExpireHandshake())
        {
            return; // done in time
        }

        metrics.HandshakeTimedOut();
        Log.HandshakeTimedOut(logger, guard.RemoteIp?.ToString() ?? "unknown", _options.HandshakeTimeout);
        guard.Request?.Abort();
    }

    /// <summary>Under <see cref="_gate"/>; <paramref name="client"/> is the address as counted.</summary>
    private AdmissionRefusal Refusal(IPAddress? client, string? subject)
    {
        if (_open >= _options.MaxConnections)
        {
            return AdmissionRefusal.Full;
        }

        if (client is not null && _options.MaxConnectionsPerIp > 0 && _perIp.GetValueOrDefault(client) >= _options.MaxConnectionsPerIp)
        {
            return AdmissionRefusal.PerIp;
        }

        if (subject is not null && _options.MaxConnectionsPerSubject > 0 && _perSubject.GetValueOrDefault(subject) >= _options.MaxConnectionsPerSubject)
        {
            return AdmissionRefusal.PerSubject;
        }

        return AdmissionRefusal.None;
    }

    private void Release(IPAddress? client, string? subject)
    {
        lock (_gate)
        {
            _open--;
            Decrement(_perIp, client);
            Decrement(_perSubject, subject);
        }
    }

    private static void Decrement<TKey>(Dictionary<TKey, int> counts, TKey? key)
        where TKey : notnull
    {
        if (key is not null && counts.TryGetValue(key, out var count))
        {
            if (count <= 1)
            {
                counts.Remove(key); // keyed by client input: an entry lives only while its connections do
            }
            else
            {
                counts[key] = count - 1;
            }
        }
    }

    /// <summary>One connection's place under the caps; given back once.</summary>
    internal sealed class Slot(ConnectionAdmission owner, IPAddress? client, string? subject)
    {
        private int _released;

        public void Release()
        {
            if (Interlocked.Exchange(ref _released, 1) == 0)
            {
                owner.Release(client, subject);
            }
        }
    }

    private static partial class Log
    {
        [LoggerMessage(5110, LogLevel.Warning, "A connection from {RemoteIp} did not finish the SignalR handshake within Hub:HandshakeTimeout ({Timeout}); dropped")]
        public static partial void HandshakeTimedOut(ILogger logger, string remoteIp, TimeSpan timeout);
    }
}
