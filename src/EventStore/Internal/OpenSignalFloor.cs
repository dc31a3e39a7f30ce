using SignalStream.Contracts;

namespace SignalStream.EventStore.Internal;

/// <summary>
/// The store positions of the signals still open (issued, no outcome yet), live and shadow, as the projector reads
/// them. File retention must not delete the segment holding one: a restart restores open signals from the store, and
/// one it cannot read would never resolve. A signal past its expiry by <c>grace</c> without an outcome (its symbol no
/// longer ingested, so no candle will resolve it) stops holding retention back.
/// </summary>
internal sealed class OpenSignalFloor(TimeSpan grace)
{
    private readonly Dictionary<string, (long Position, long ReleaseAtMs)> _open = new(StringComparer.Ordinal);
    private readonly PriorityQueue<string, long> _byPosition = new();

    /// <summary>Signals holding retention back now.</summary>
    public int Count => _open.Count;

    public void Issued(Signal signal, long position)
    {
        if (_open.TryAdd(signal.Id, (position, signal.ExpiresAt + (long)grace.TotalMilliseconds)))
        {
            _byPosition.Enqueue(signal.Id, position);
        }
    }

    public void Resolved(string signalId) => _open.Remove(signalId);

    /// <summary>What retention may release: everything <paramref name="consumed"/>, up to just before the oldest open signal.</summary>
    public long ReleasableUpTo(long consumed, long nowMs)
    {
        // Resolved and long-expired signals leave the queue lazily, when they reach its head.
        while (_byPosition.TryPeek(out var id, out var position))
        {
            if (_open.TryGetValue(id, out var open) && open.Position == position)
            {
                if (open.ReleaseAtMs > nowMs)
                {
                    return Math.Min(consumed, position - 1);
                }

                _open.Remove(id);
            }

            _byPosition.Dequeue();
        }

        return consumed;
    }
}
