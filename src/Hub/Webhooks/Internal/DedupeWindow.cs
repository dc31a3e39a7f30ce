namespace SignalStream.Hub.Webhooks.Internal;

/// <summary>
/// A source's accepted alerts by dedupe key, for <c>DedupeWindow</c> and at most <c>DedupeCapacity</c> of them (the
/// oldest goes first): a retry of an accepted alert gets the first answer again and changes nothing. An alert still
/// being handled is held as a pending entry, so a retry that races it waits for the same answer instead of running twice.
/// </summary>
internal sealed class DedupeWindow(TimeProvider time, TimeSpan window, int capacity)
{
    private readonly Lock _gate = new();
    private readonly Dictionary<string, Entry> _entries = new(StringComparer.Ordinal);
    private readonly Queue<(string Key, Entry Entry)> _order = new();

    /// <summary>
    /// Reserves <paramref name="key"/> for a new alert (true), or gives the answer to wait for when the key is known:
    /// an accepted alert's, or a pending one's (false).
    /// </summary>
    public bool TryReserve(string key, out Task<AlertAnswer?> existing)
    {
        lock (_gate)
        {
            Evict();
            if (_entries.TryGetValue(key, out var entry))
            {
                existing = entry.Answer.Task;
                return false;
            }

            if (window <= TimeSpan.Zero)
            {
                existing = Task.FromResult<AlertAnswer?>(null);
                return true;
            }

            entry = new Entry(time.GetTimestamp());
            _entries.Add(key, entry);
            _order.Enqueue((key, entry));
            Evict();
            existing = entry.Answer.Task;
            return true;
        }
    }

    /// <summary>The reserved alert was accepted: later retries get <paramref name="answer"/>.</summary>
    public void Complete(string key, AlertAnswer answer)
    {
        lock (_gate)
        {
            if (_entries.TryGetValue(key, out var entry))
            {
                entry.Answer.TrySetResult(answer);
            }
        }
    }

    /// <summary>The reserved alert was not taken (rejected, or the node is stopping): a retry is handled afresh.</summary>
    public void Abandon(string key)
    {
        lock (_gate)
        {
            if (_entries.Remove(key, out var entry))
            {
                // A retry that waited on it is told to go ahead on its own.
                entry.Answer.TrySetResult(null);
            }
        }
    }

    /// <summary>An alert accepted before a restart (read from the store), received <paramref name="age"/> ago; false when too old.</summary>
    public bool Remember(string key, AlertAnswer answer, TimeSpan age)
    {
        if (age >= window)
        {
            return false;
        }

        lock (_gate)
        {
            if (_entries.ContainsKey(key))
            {
                return false;
            }

            // Backdated so it leaves the window when it would have without the restart.
            var entry = new Entry(time.GetTimestamp() - (long)(age.TotalSeconds * time.TimestampFrequency));
            entry.Answer.TrySetResult(answer);
            _entries.Add(key, entry);
            _order.Enqueue((key, entry));
            Evict();
            return true;
        }
    }

    public int Count
    {
        get
        {
            lock (_gate)
            {
                return _entries.Count;
            }
        }
    }

    /// <summary>Caller holds the gate. Entries leave oldest first, by age or by count.</summary>
    private void Evict()
    {
        while (_order.TryPeek(out var oldest)
            && (_order.Count > capacity || time.GetElapsedTime(oldest.Entry.At) >= window || !ReferenceEquals(_entries.GetValueOrDefault(oldest.Key), oldest.Entry)))
        {
            _order.Dequeue();
            if (ReferenceEquals(_entries.GetValueOrDefault(oldest.Key), oldest.Entry))
            {
                _entries.Remove(oldest.Key);
            }
        }
    }

    private sealed class Entry(long at)
    {
        public long At { get; } = at;

        public TaskCompletionSource<AlertAnswer?> Answer { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}
