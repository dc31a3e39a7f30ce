namespace SignalStream.Hub.Notifications.Internal;

/// <summary>
/// How far one sink has got through one source stream of one symbol (its signals, or its outcomes). Versions are
/// settled — delivered, dead-lettered, or not for this sink — in any order; <see cref="Settled"/> is the contiguous
/// prefix, the point a restart resumes from. <see cref="Reach"/>, written into every record, is how far any record
/// so far may concern: what bounds how far back a restart reads (<see cref="SinkRestore"/>).
/// </summary>
internal sealed class SourceProgress(long settled)
{
    private readonly SortedSet<long> _settledAhead = [];

    // Attempts already made, and when the next is due, for versions a previous run left pending (from the store).
    private readonly Dictionary<long, (int Attempts, long RetryAt)> _restored = [];

    /// <summary>Every version up to this one is settled.</summary>
    public long Settled { get; private set; } = settled;

    /// <summary>The highest version read from the store so far (a restart reads again from <see cref="Settled"/>).</summary>
    public long ReadUpTo { get; set; } = settled;

    /// <summary>The highest version read in this run or any before it (the records' read mark; it never goes back).</summary>
    public long Reach => Math.Max(ReadUpTo, RestoredReach);

    /// <summary>The read mark of the newest record at start.</summary>
    public long RestoredReach { get; set; }

    /// <summary>Versions taken into memory and not yet settled.</summary>
    public int InFlight { get; set; }

    public bool IsSettled(long version) => version <= Settled || _settledAhead.Contains(version);

    public void Settle(long version)
    {
        if (version <= Settled)
        {
            return;
        }

        if (version != Settled + 1)
        {
            _settledAhead.Add(version);
            return;
        }

        Settled = version;
        while (_settledAhead.Remove(Settled + 1))
        {
            Settled++;
        }
    }

    /// <summary>Marks a version a previous run settled (past the restored settled point).</summary>
    public void RestoreSettled(long version)
    {
        if (version > Settled)
        {
            _settledAhead.Add(version);
        }
    }

    public void RestoreAttempts(long version, int attempts, long retryAt)
    {
        if (version > Settled && (!_restored.TryGetValue(version, out var held) || held.Attempts < attempts))
        {
            _restored[version] = (attempts, retryAt);
        }
    }

    /// <summary>Attempts a previous run made on <paramref name="version"/> (0 when none), and when the next is due.</summary>
    public (int Attempts, long RetryAt) TakeRestored(long version) =>
        _restored.Remove(version, out var held) ? held : (0, 0);
}
