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
            for (var p = from; p <= to; p++)
            {
                var stored = ReadAt(p);
                result.Add(dataOf is null || dataOf.Contains(stored.Type) ? stored : stored with { Data = ReadOnlyMemory<byte>.Empty });
            }

            afterPosition = to;
            return result;
        }
        finally
        {
            _indexLock.ExitReadLock();
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
            var read = 0;
            while (read < span.Length)
            {
                var n = RandomAccess.Read(location.Segment.Handle, span[read..], location.Offset + read);
                if (n == 0)
                {
                    throw new InvalidDataException($"Journal segment '{location.Segment.Path}' ended inside event {position}.");
                }

                read += n;
            }

            return JournalFormat.TryReadEntry(span, out var entry, out _)
                ? entry.ToStoredEvent(span)
                : throw new InvalidDataException($"Journal segment '{location.Segment.Path}': event {position} is unreadable.");
        }
        finally
        {
            System.Buffers.ArrayPool<byte>.Shared.Return(buffer);
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
