namespace SignalStream.EventStore.File;

internal sealed partial class FileEventStore
{
    public ValueTask<IReadOnlyList<StoredEvent>> ReadStreamAsync(string streamId, long fromVersion, int maxCount, CancellationToken cancellationToken = default)
    {
        while (true)
        {
            EnsureOpen(); // again on a retry: the store may have been disposed meanwhile
            var plan = ReadPlan.Empty;
            _indexLock.EnterReadLock();
            try
            {
                if (maxCount > 0 && _streams.TryGetValue(streamId, out var stream))
                {
                    var firstRetained = stream.Version - stream.Positions.Count + 1;
                    var from = Math.Max(fromVersion, firstRetained);
                    var to = Math.Min(stream.Version, from + maxCount - 1);
                    plan = new ReadPlan((int)Math.Max(0, to - from + 1));
                    for (var v = from; v <= to; v++)
                    {
                        var position = stream.Positions[(int)(v - firstRetained)];
                        Plan(ref plan, SegmentOf(position), position);
                    }
                }
            }
            finally
            {
                _indexLock.ExitReadLock();
            }

            if (TryRead(ref plan, dataOf: null, runs: false, out var result))
            {
                return new(result);
            }
        }
    }

    public ValueTask<IReadOnlyList<StoredEvent>> ReadStreamBackwardAsync(string streamId, int maxCount, CancellationToken cancellationToken = default)
    {
        while (true)
        {
            EnsureOpen();
            var plan = ReadPlan.Empty;
            _indexLock.EnterReadLock();
            try
            {
                if (maxCount > 0 && _streams.TryGetValue(streamId, out var stream))
                {
                    var count = Math.Min(maxCount, stream.Positions.Count);
                    plan = new ReadPlan(count);
                    for (var i = stream.Positions.Count - 1; i >= stream.Positions.Count - count; i--)
                    {
                        Plan(ref plan, SegmentOf(stream.Positions[i]), stream.Positions[i]);
                    }
                }
            }
            finally
            {
                _indexLock.ExitReadLock();
            }

            if (TryRead(ref plan, dataOf: null, runs: false, out var result))
            {
                return new(result);
            }
        }
    }

    public ValueTask<long> GetLastPositionAsync(CancellationToken cancellationToken = default)
    {
        EnsureOpen();
        _indexLock.EnterReadLock();
        try
        {
            return new(_nextPosition - 1);
        }
        finally
        {
            _indexLock.ExitReadLock();
        }
    }

    public ValueTask<long> GetStreamVersionAsync(string streamId, CancellationToken cancellationToken = default)
    {
        EnsureOpen();
        _indexLock.EnterReadLock();
        try
        {
            return new(_streams.TryGetValue(streamId, out var stream) ? stream.Version : 0);
        }
        finally
        {
            _indexLock.ExitReadLock();
        }
    }

    /// <summary>Reads committed events after <paramref name="afterPosition"/> (positions are contiguous: no gaps to wait for).</summary>
    private IReadOnlyList<StoredEvent> ReadAll(ref long afterPosition, int maxCount, HashSet<string>? dataOf)
    {
        while (true)
        {
            EnsureOpen();
            var plan = ReadPlan.Empty;
            long to;
            _indexLock.EnterReadLock();
            try
            {
                // Positions below the first retained one were deleted after every consumer released them.
                var from = Math.Max(afterPosition + 1, _firstPosition);
                to = Math.Min(_nextPosition - 1, from + maxCount - 1);
                if (to < from)
                {
                    return [];
                }

                plan = new ReadPlan((int)(to - from + 1));
                var segment = SegmentOf(from);
                for (var p = from; p <= to; p++)
                {
                    if (p > segment.LastPosition)
                    {
                        segment = SegmentOf(p);
                    }

                    Plan(ref plan, segment, p);
                }
            }
            finally
            {
                _indexLock.ExitReadLock();
            }

            if (TryRead(ref plan, dataOf, runs: true, out var result))
            {
                afterPosition = to;
                return result;
            }
        }
    }

    /// <summary>The segment holding <paramref name="position"/>, a retained one (caller holds the read lock).</summary>
    private Segment SegmentOf(long position)
    {
        // Positions are contiguous across segments: the last segment starting at or before the position holds it. Only
        // the newest segment may be empty (FirstPosition 0), and then it holds no position asked for.
        int low = 0, high = _segments.Count - 1;
        while (low < high)
        {
            var mid = (low + high + 1) / 2;
            var first = _segments[mid].FirstPosition;
            if (first != 0 && first <= position)
            {
                low = mid;
            }
            else
            {
                high = mid - 1;
            }
        }

        return _segments[low];
    }

    /// <summary>Adds where <paramref name="position"/>'s entry lies in <paramref name="segment"/> to the plan (caller holds the read lock).</summary>
    private static void Plan(ref ReadPlan plan, Segment segment, long position)
    {
        var (start, end) = segment.Extent(position);
        plan.Add(new PlannedEntry(segment, position, start, (int)end));
    }

    /// <summary>
    /// Reads the planned entries, outside the index lock: appends take that lock to publish what they committed, and must
    /// not wait for a read's disk I/O (a client paging old history from a cold disk, or the first comparison of a
    /// segment). Entries are immutable once indexed, so only retention can get in the way: it closes a segment's handle,
    /// and then the read is planned again (false) from what is retained.
    /// </summary>
    /// <param name="runs">Whether neighbouring entries are read with one read (a global page: they are adjacent).</param>
    private bool TryRead(ref ReadPlan plan, HashSet<string>? dataOf, bool runs, out List<StoredEvent> result)
    {
        result = new List<StoredEvent>(plan.Count);
        try
        {
            var entries = plan.Entries;
            for (var i = 0; i < entries.Length;)
            {
                var first = entries[i];
                EnsureVerified(first.Segment);
                var last = i;
                while (runs && last + 1 < entries.Length && entries[last + 1].Segment == first.Segment
                    && entries[last + 1].End - first.Start <= MaxRunBytes)
                {
                    last++;
                }

                ReadRun(entries[i..(last + 1)], dataOf, result);
                i = last + 1;
            }

            return true;
        }
        catch (ObjectDisposedException) when (!_disposed)
        {
            return false; // retention deleted a segment the plan reached
        }
        finally
        {
            plan.Dispose();
        }
    }

    /// <summary>The most one read of a global page takes from a segment at once.</summary>
    private const int MaxRunBytes = 1024 * 1024;

    /// <summary>
    /// Reads entries that lie in one segment in file order with one read: a page of 2,000 events was 2,000 reads. A type
    /// the reader only counts keeps no copy of its data.
    /// </summary>
    private void ReadRun(ReadOnlySpan<PlannedEntry> run, HashSet<string>? dataOf, List<StoredEvent> result)
    {
        var segment = run[0].Segment;
        var start = run[0].Start;
        var length = run[^1].End - start;
        var buffer = System.Buffers.ArrayPool<byte>.Shared.Rent(length);
        try
        {
            ReadExactly(segment, buffer.AsSpan(0, length), start, run[0].Position);
            foreach (var entry in run)
            {
                ThrowIfDamaged(segment, entry.Start, entry.Position);
                result.Add(Parse(buffer.AsSpan(entry.Start - start, entry.End - entry.Start), segment, entry.Position, dataOf));
            }
        }
        finally
        {
            System.Buffers.ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>An entry as read, as a stored event; its data only when <paramref name="dataOf"/> is null or names its type.</summary>
    private static StoredEvent Parse(ReadOnlySpan<byte> entry, Segment segment, long position, HashSet<string>? dataOf) =>
        JournalFormat.TryReadEntry(entry, out var view, out _)
            ? view.ToStoredEvent(entry, withData: dataOf is null || dataOf.Contains(view.Type))
            : throw new InvalidDataException($"Journal segment '{segment.Path}': event {position} is unreadable.");

    /// <summary>Refuses an entry the verification after open found in a damaged part of its segment (its record's checksum fails).</summary>
    private static void ThrowIfDamaged(Segment segment, long entryStart, long position)
    {
        if (entryStart >= segment.DamagedFrom)
        {
            throw new InvalidDataException(
                $"Journal segment '{segment.Path}' is damaged from byte {segment.DamagedFrom} (found by the checksum verification after open): " +
                $"event {position} lies there and cannot be read. Restore the segment from a backup (docs/events.md, \"Verification of sealed segments\").");
        }
    }

    private void ReadExactly(Segment segment, Span<byte> span, long offset, long position)
    {
        var read = 0;
        while (read < span.Length)
        {
            var n = _files.Read(segment.Handle, span[read..], offset + read);
            if (n == 0)
            {
                throw new InvalidDataException($"Journal segment '{segment.Path}' ended inside event {position}.");
            }

            read += n;
        }
    }

    /// <summary>Where one entry of a read lies: planned under the index lock, read after it.</summary>
    private readonly record struct PlannedEntry(Segment Segment, long Position, int Start, int End);

    /// <summary>A read's entries, in the order it returns them, in a pooled array.</summary>
    private struct ReadPlan(int capacity) : IDisposable
    {
        private PlannedEntry[] _entries = capacity == 0 ? [] : System.Buffers.ArrayPool<PlannedEntry>.Shared.Rent(capacity);

        public static ReadPlan Empty => new(0);

        public int Count { get; private set; }

        public readonly ReadOnlySpan<PlannedEntry> Entries => _entries.AsSpan(0, Count);

        public void Add(PlannedEntry entry) => _entries[Count++] = entry;

        public void Dispose()
        {
            if (_entries.Length > 0)
            {
                System.Buffers.ArrayPool<PlannedEntry>.Shared.Return(_entries, clearArray: true); // it holds segments
            }

            _entries = [];
            Count = 0;
        }
    }

    private sealed class GlobalReader(FileEventStore store, long afterPosition, HashSet<string>? dataOf) : IGlobalEventReader
    {
        private long _position = afterPosition;

        public long Position => _position;

        public ValueTask<IReadOnlyList<StoredEvent>> ReadNextAsync(int maxCount, CancellationToken cancellationToken = default) =>
            new(store.ReadAll(ref _position, maxCount, dataOf));

        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }
}
