using System.Collections.Concurrent;

namespace SignalStream.Hub.Hubs.Internal;

/// <summary>
/// Clients refused new connections for <c>Hub:ReconnectPenalty</c> after one of their connections was closed for
/// invocation flooding or cut off as a slow consumer, keyed by <see cref="Auth.ClientKeys"/> (token subject, else address).
/// </summary>
/// <remarks>
/// Without it a client that is cut (after making the node copy megabytes of replies it never reads) or closed for
/// flooding reconnects at once with fresh per-connection limits, in a loop, on every connection its caps allow. At most
/// <see cref="MaxClients"/> are held, each for the penalty: past that (expired ones dropped first) a client goes
/// unpenalized rather than the node growing without bound.
/// </remarks>
internal sealed class ReconnectPenalties(TimeSpan penalty, TimeProvider time, HubMetrics metrics)
{
    public const int MaxClients = 100_000;

    private readonly ConcurrentDictionary<string, long> _since = new(StringComparer.Ordinal);

    public TimeSpan Penalty => penalty;

    /// <summary>Refuses <paramref name="client"/> new connections from now for the penalty (not at all when it is zero or
    /// the client is unknown).</summary>
    public void Penalize(string? client)
    {
        if (penalty <= TimeSpan.Zero || client is null)
        {
            return;
        }

        if (_since.Count >= MaxClients)
        {
            Prune();
            if (_since.Count >= MaxClients)
            {
                return;
            }
        }

        _since[client] = time.GetTimestamp();
    }

    /// <summary>True (and counted) when a new connection of <paramref name="client"/> is refused now, with how long it
    /// still will be.</summary>
    public bool Refuses(string client, out TimeSpan remaining)
    {
        remaining = TimeSpan.Zero;
        if (_since.IsEmpty || !_since.TryGetValue(client, out var since))
        {
            return false;
        }

        remaining = penalty - time.GetElapsedTime(since);
        if (remaining <= TimeSpan.Zero)
        {
            return false;
        }

        metrics.ReconnectPenalized();
        return true;
    }

    /// <summary>Forgets the penalties that have run out (the connection sweep calls it).</summary>
    public void Prune()
    {
        if (_since.IsEmpty)
        {
            return;
        }

        var now = time.GetTimestamp();
        foreach (var (client, since) in _since)
        {
            if (time.GetElapsedTime(since, now) >= penalty)
            {
                _since.TryRemove(new KeyValuePair<string, long>(client, since));
            }
        }
    }
}
