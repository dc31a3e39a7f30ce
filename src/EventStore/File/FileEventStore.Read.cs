namespace SignalStream.EventStore.File;

internal sealed partial class FileEventStore
{
    public ValueTask<IReadOnlyList<StoredEvent>> ReadStreamAsync(string streamId, long fromVersion, int maxCount, CancellationToken cancellationToken = default)
    {
        EnsureOpen();
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
            var result = new List<StoredEvent>((int)Math.Max(0, to - from + 1));
            for (var v = from; v <= to; v++)
            {
                result.Add(ReadAt(stream.Positions[(int)(v - firstRetained)]));
            }

            return new(result);
        }
        finally
        {
            _indexLock.ExitReadLock();
        }
    }

    public ValueTask<IReadOnlyList<StoredEvent>> ReadStreamBackwardAsync(string streamId, int maxCount, CancellationToken cancellationToken = default)
    {
        EnsureOpen();
        _indexLock.EnterReadLock();
        try
        {
            if (maxCount <= 0 || !_streams.TryGetValue(streamId, out var stream))
            {
                return new([]);
            }

            var count = Math.Min(maxCount, stream.Positions.Count);
            var result = new List<StoredEvent>(count);
            for (var i = stream.Positions.Count - 1; i >= stream.Positions.Count - count; i--)
            {
                result.Add(ReadAt(stream.Positions[i]));
            }

            return new(result);
        }
        finally
        {
            _indexLock.ExitReadLock();
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
        EnsureOpen();
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

            var result = new List<StoredEvent>((int)(to - from + 1));
            for (var p = from; p <= to;)
            {
                var last = RunEnd(p, to);
                ReadRun(p, last, dataOf, result);
                p = last + 1;
            }

            afterPosition = to;
            return result;
        }
        finally
        {
            _indexLock.ExitReadLock();
        }
    }

    /// <summary>
    /// The last position from <paramref name="from"/> on whose entries lie in the same segment within
    /// <see cref="MaxRunBytes"/> of the first: positions follow the file's order inside a segment, so one read gets them all.
    /// </summary>
    private long RunEnd(long from, long to)
    {
        var first = _locations[(int)(from - _firstPosition)];
        var last = from;
        while (last < to)
        {
            var next = _locations[(int)(last + 1 - _firstPosition)];
            if (next.Segment != first.Segment || next.Offset + next.Length - first.Offset > MaxRunBytes)
            {
                break;
            }

            last++;
        }

        return last;
    }

    /// <summary>The most one read of a global page takes from a segment at once.</summary>
    private const int MaxRunBytes = 1024 * 1024;

    /// <summary>
    /// Reads the entries of positions <paramref name="from"/>..<paramref name="to"/> (one run) with one read: a page of
    /// 2,000 events was 2,000 reads, each under the index lock the appender waits for. A type the reader only counts
    /// keeps no copy of its data.
    /// </summary>
    private void ReadRun(long from, long to, HashSet<string>? dataOf, List<StoredEvent> result)
    {
        var first = _locations[(int)(from - _firstPosition)];
        var end = _locations[(int)(to - _firstPosition)];
        var length = checked((int)(end.Offset + end.Length - first.Offset));
        var buffer = System.Buffers.ArrayPool<byte>.Shared.Rent(length);
        try
        {
            ReadExactly(first.Segment, buffer.AsSpan(0, length), first.Offset, from);
            for (var p = from; p <= to; p++)
            {
                var location = _locations[(int)(p - _firstPosition)];
                result.Add(Parse(buffer.AsSpan((int)(location.Offset - first.Offset), location.Length), location.Segment, p, dataOf));
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
        var location = _locations[(int)(position - _firstPosition)];
        var buffer = System.Buffers.ArrayPool<byte>.Shared.Rent(location.Length);
        try
        {
            var span = buffer.AsSpan(0, location.Length);
            ReadExactly(location.Segment, span, location.Offset, position);
            return Parse(span, location.Segment, position, dataOf: null);
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
