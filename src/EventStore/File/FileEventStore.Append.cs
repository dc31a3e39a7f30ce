using Microsoft.Extensions.Logging;
using SignalStream.EventStore.File.Internal;

namespace SignalStream.EventStore.File;

internal sealed partial class FileEventStore
{
    public async ValueTask<AppendResult> AppendAsync(IReadOnlyList<StreamAppend> group, CancellationToken cancellationToken = default)
    {
        await _appendGate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            EnsureOpen();
            if (_readOnly)
            {
                throw new InvalidOperationException($"The event journal '{_options.Path}' was opened read-only: it cannot be appended to.");
            }

            return AppendLocked(group);
        }
        finally
        {
            _appendGate.Release();
        }
    }

    private AppendResult AppendLocked(IReadOnlyList<StreamAppend> group)
    {
        // Only the appender changes the index, so it reads it here without the lock.
        var pending = new Dictionary<string, long>(StringComparer.Ordinal);
        var groupIds = new HashSet<Guid>();
        var fresh = 0;
        foreach (var append in group)
        {
            var freshInAppend = 0;
            foreach (var e in append.Events)
            {
                if (!_recentIds.Contains(e.EventId) && groupIds.Add(e.EventId))
                {
                    freshInAppend++;
                }
            }

            if (freshInAppend == 0)
            {
                continue;
            }

            var actual = pending.TryGetValue(append.StreamId, out var p) ? p
                : _streams.TryGetValue(append.StreamId, out var s) ? s.Version : 0;
            if (append.ExpectedVersion != ExpectedVersions.Any && append.ExpectedVersion != actual)
            {
                return new AppendResult(AppendStatus.WrongExpectedVersion, 0, append.StreamId, actual);
            }

            pending[append.StreamId] = actual + freshInAppend;
            fresh += freshInAppend;
        }

        if (fresh == 0)
        {
            return new AppendResult(AppendStatus.Committed, 0);
        }

        // Encode the whole group as one record: one checksum, so a torn group is dropped whole at recovery.
        var entries = new (long Offset, JournalFormat.EntryView Entry)[fresh];
        JournalFormat.BeginRecord(_buffer, JournalFormat.GroupKind);
        JournalFormat.WriteInt32(_buffer, fresh);
        groupIds.Clear();
        pending.Clear();
        var position = _nextPosition;
        var n = 0;
        foreach (var append in group)
        {
            foreach (var e in append.Events)
            {
                if (_recentIds.Contains(e.EventId) || !groupIds.Add(e.EventId))
                {
                    continue;
                }

                var version = (pending.TryGetValue(append.StreamId, out var v) ? v
                    : _streams.TryGetValue(append.StreamId, out var s) ? s.Version : 0) + 1;
                pending[append.StreamId] = version;
                var start = _buffer.WrittenCount;
                JournalFormat.WriteEntry(_buffer, position, version, append.StreamId, append.StreamType, e);
                entries[n++] = (start, new JournalFormat.EntryView(
                    position, version, e.CreatedAt.ToUnixTimeMilliseconds(), e.EventId, e.SchemaVersion,
                    append.StreamId, append.StreamType, e.Type, 0, e.Data.Length));
                position++;
            }
        }

        JournalFormat.EndRecord(_buffer);
        var record = _buffer.WrittenMemory;

        var segment = _segments[^1];
        if (segment.FirstPosition != 0 && segment.Length + record.Length > Math.Min(_options.SegmentSizeBytes, MaxSegmentBytes))
        {
            segment = RollOver(segment);
        }

        try
        {
            _files.Write(segment.Handle, record.Span, segment.Length);
            _files.Flush(segment.Handle);
        }
        catch (IOException)
        {
            // Cut whatever part of the record reached the file, so the next group starts on a record boundary.
            // If this fails too, recovery at the next open truncates it as a torn tail.
            TryTruncate(segment);
            throw;
        }

        var recordOffset = segment.Length;
        segment.Sidecar?.AddBytes(record.Span);
        _indexLock.EnterWriteLock();
        try
        {
            foreach (var (offset, entry) in entries)
            {
                Index(segment, entry, recordOffset + offset);
            }

            segment.Length += record.Length;
        }
        finally
        {
            _indexLock.ExitWriteLock();
        }

        return new AppendResult(AppendStatus.Committed, fresh);
    }

    private void TryTruncate(Segment segment)
    {
        try
        {
            _files.Truncate(segment.Handle, segment.Length);
        }
        catch (IOException ex)
        {
            Log.TruncateAfterFailedWriteFailed(_logger, segment.Path, ex);
        }
    }

    /// <summary>Starts a new segment (the old one is already durable: every group was fsynced) and applies retention.</summary>
    private Segment RollOver(Segment current)
    {
        var next = CreateSegment(current.Index + 1);
        WriteSidecar(current);
        _indexLock.EnterWriteLock();
        try
        {
            // Closed: its offsets no longer grow, so the list's spare capacity (up to half of it) is given back.
            current.Offsets.TrimExcess();
        }
        finally
        {
            _indexLock.ExitWriteLock();
        }

        ApplyRetention();
        return next;
    }

    private void ApplyRetention()
    {
        var nowMs = _time.GetUtcNow().ToUnixTimeMilliseconds();
        while (_segments.Count > 1)
        {
            var oldest = _segments[0];
            var tooMany = _options.RetentionMaxSegments > 0 && _segments.Count > _options.RetentionMaxSegments;
            var tooOld = _options.RetentionMaxAge is { } age && oldest.LastTimestampMs < nowMs - (long)age.TotalMilliseconds;
            if (!tooMany && !tooOld)
            {
                return;
            }

            if (oldest.LastPosition > _releasedUpTo)
            {
                // A projection still needs these events: keep them, retention resumes once it has consumed them.
                Log.RetentionWaitsForConsumers(_logger, oldest.Path, oldest.LastPosition, _releasedUpTo);
                return;
            }

            DeleteOldest(oldest);
        }
    }

    private void DeleteOldest(Segment oldest)
    {
        _indexLock.EnterWriteLock();
        try
        {
            if (oldest.FirstPosition != 0)
            {
                _firstPosition = oldest.LastPosition + 1;
                _recentIds.ForgetBelow(_firstPosition);
                foreach (var stream in _streams.Values)
                {
                    stream.Positions.RemoveBelow(_firstPosition);
                }
            }

            _segments.RemoveAt(0);
            oldest.Handle.Dispose();
        }
        finally
        {
            _indexLock.ExitWriteLock();
        }

        // The sidecar first: a crash between the two leaves a segment that is scanned at open, never a stray sidecar.
        _files.Delete(SegmentIndexFile.PathOf(oldest.Path));
        _files.Delete(oldest.Path);
        ForgetDamage(oldest.Path);
        Log.SegmentDeleted(_logger, oldest.Path, oldest.LastPosition);
    }
}
