namespace SignalStream.EventStore.File;

internal sealed partial class FileEventStore
{
    public ValueTask<IReadOnlyList<StoredEvent>> ReadStreamAsync(string streamId, long fromVersion, int maxCount, CancellationToken cancellationToken = default)
    {
        while (true)
        {
            EnsureOpen(); // again after a comparison: the store may have been disposed meanwhile
            Segment? toCompare;
            _indexLock.EnterReadLock();
            try
            {
                if (maxCount <= 0 || !_streams.TryGetValue(streamId, out var stream))
                {
                    return new([]);
                }

                var firstRetained = stream.Version - stream.Positions.Count + 1;
                var from = Math.Max(fromVersion, firstRetained);
                var to = Math.Min(stream.Version, from + maxCount - 1);
                toCompare = FirstUnverified(stream.Positions, (int)(from - firstRetained), (int)(to - firstRetained));
                if (toCompare is null)
                {
                    var result = new List<StoredEvent>((int)Math.Max(0, to - from + 1));
                    for (var v = from; v <= to; v++)
                    {
                        result.Add(ReadAt(stream.Positions[(int)(v - firstRetained)]));
                    }

                    return new(result);
                }
            }
            finally
            {
                _indexLock.ExitReadLock();
            }

            CompareOutsideTheLock(toCompare);
        }
    }

    public ValueTask<IReadOnlyList<StoredEvent>> ReadStreamBackwardAsync(string streamId, int maxCount, CancellationToken cancellationToken = default)
    {
        while (true)
        {
            EnsureOpen(); // again after a comparison: the store may have been disposed meanwhile
            Segment? toCompare;
            _indexLock.EnterReadLock();
            try
            {
                if (maxCount <= 0 || !_streams.TryGetValue(streamId, out var stream))
                {
                    return new([]);
                }

                var count = Math.Min(maxCount, stream.Positions.Count);
                toCompare = FirstUnverified(stream.Positions, stream.Positions.Count - count, stream.Positions.Count - 1);
                if (toCompare is null)
                {
                    var result = new List<StoredEvent>(count);
                    for (var i = stream.Positions.Count - 1; i >= stream.Positions.Count - count; i--)
                    {
                        result.Add(ReadAt(stream.Positions[i]));
                    }

                    return new(result);
                }
            }
            finally
            {
                _indexLock.ExitReadLock();
            }

            CompareOutsideTheLock(toCompare);
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
            EnsureOpen(); // again after a comparison: the store may have been disposed meanwhile
            Segment? toCompare;
            _indexLock.EnterReadLock();
            try
            {
                // Positions below the first retained one were deleted after every consumer released them.
                var from = Math.Max(afterPosition + 1, _firstPosition);
                var to = Math.Min(_nextPosition - 1, from + maxCount - 1);
                if (to < from)
                {
                    return [];
                }

                toCompare = FirstUnverified(from, to);
                if (toCompare is null)
                {
                    var result = new List<StoredEvent>((int)(to - from + 1));
                    for (var p = from; p <= to;)
                    {
                        var segment = SegmentOf(p);
                        var last = RunEnd(segment, p, to);
                        ReadRun(segment, p, last, dataOf, result);
                        p = last + 1;
                    }

                    afterPosition = to;
                    return result;
                }
            }
            finally
            {
                _indexLock.ExitReadLock();
            }

            CompareOutsideTheLock(toCompare);
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

    /// <summary>
    /// The last position from <paramref name="from"/> on whose entries lie in the same segment within
    /// <see cref="MaxRunBytes"/> of the first: positions follow the file's order inside a segment, so one read gets them all.
    /// </summary>
    private static long RunEnd(Segment segment, long from, long to)
    {
        var start = segment.Extent(from).Start;
        var last = from;
        var end = Math.Min(to, segment.LastPosition);
        while (last < end && segment.Extent(last + 1).End - start <= MaxRunBytes)
        {
            last++;
        }

        return last;
    }

    /// <summary>The most one read of a global page takes from a segment at once.</summary>
    private const int MaxRunBytes = 1024 * 1024;

    /// <summary>
    /// Reads the entries of positions <paramref name="from"/>..<paramref name="to"/> (one run in <paramref name="segment"/>)
    /// with one read: a page of 2,000 events was 2,000 reads, each under the index lock the appender waits for. A type
    /// the reader only counts keeps no copy of its data.
    /// </summary>
    private void ReadRun(Segment segment, long from, long to, HashSet<string>? dataOf, List<StoredEvent> result)
    {
        EnsureVerified(segment);
        var start = segment.Extent(from).Start;
        var length = checked((int)(segment.Extent(to).End - start));
        var buffer = System.Buffers.ArrayPool<byte>.Shared.Rent(length);
        try
        {
            ReadExactly(segment, buffer.AsSpan(0, length), start, from);
            for (var p = from; p <= to; p++)
            {
                var (entryStart, entryEnd) = segment.Extent(p);
                ThrowIfDamaged(segment, entryStart, p);
                result.Add(Parse(buffer.AsSpan(entryStart - start, (int)(entryEnd - entryStart)), segment, p, dataOf));
            }
        }
        finally
        {
            System.Buffers.ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>Reads one event's entry from its segment (caller holds the read lock).</summary>
    private StoredEvent ReadAt(long position)
    {
        var segment = SegmentOf(position);
        EnsureVerified(segment);
        var (start, end) = segment.Extent(position);
        ThrowIfDamaged(segment, start, position);
        var length = (int)(end - start);
        var buffer = System.Buffers.ArrayPool<byte>.Shared.Rent(length);
        try
        {
            var span = buffer.AsSpan(0, length);
            ReadExactly(segment, span, start, position);
            return Parse(span, segment, position, dataOf: null);
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

    private static void ReadExactly(Segment segment, Span<byte> span, long offset, long position)
    {
        var read = 0;
        while (read < span.Length)
        {
            var n = RandomAccess.Read(segment.Handle, span[read..], offset + read);
            if (n == 0)
            {
                throw new InvalidDataException($"Journal segment '{segment.Path}' ended inside event {position}.");
            }

            read += n;
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
