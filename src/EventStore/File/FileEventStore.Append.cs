using Microsoft.Extensions.Logging;
using SignalStream.EventStore.File.Internal;

namespace SignalStream.EventStore.File;

internal sealed partial class FileEventStore
{
    /// <remarks>
    /// Appends that arrive while another one writes or waits for its fsync queue behind the gate; the next holder takes
    /// every queued group and commits them together, as one record with one fsync. Each group is still checked and
    /// answered on its own (a wrong expected version refuses that group alone), and none is answered before its record's
    /// fsync returned. The event writer's lanes otherwise took turns at the disk: 13–25 fsyncs in a row in a closing
    /// bell (BENCHMARKS.md, "Where a bell signal's time goes").
    /// </remarks>
    public async ValueTask<AppendResult> AppendAsync(IReadOnlyList<StreamAppend> group, CancellationToken cancellationToken = default)
    {
        var queued = new QueuedAppend(group);
        lock (_queued)
        {
            _queued.Add(queued);
        }

        try
        {
            await _appendGate.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // Still queued: withdrawn, never written. Otherwise a holder has taken it into the record it is writing: the
            // outcome is unknown to this caller, as after any lost acknowledgement (a retry with the same ids is safe).
            lock (_queued)
            {
                _queued.Remove(queued);
            }

            throw;
        }

        try
        {
            if (!queued.IsAnswered)
            {
                CommitQueued(queued);
            }
        }
        finally
        {
            _appendGate.Release();
        }

        return queued.Outcome();
    }

    /// <summary>Takes every queued group (<paramref name="own"/> among them) and commits them as one record.</summary>
    private void CommitQueued(QueuedAppend own)
    {
        try
        {
            EnsureOpen();
            if (_readOnly)
            {
                throw new InvalidOperationException($"The event journal '{_options.Path}' was opened read-only: it cannot be appended to.");
            }
        }
        catch
        {
            // Refused for this caller alone; the others queued meet the same check when they hold the gate.
            lock (_queued)
            {
                _queued.Remove(own);
            }

            throw;
        }

        lock (_queued)
        {
            _record.AddRange(_queued);
            _queued.Clear();
        }

        try
        {
            AppendLocked(_record);
        }
        catch (Exception ex)
        {
            // The record is cut back (or is a torn tail at the next open): none of its groups is stored. The holder's own
            // append throws this exception; the others get theirs when they hold the gate, and each caller retries its own.
            foreach (var queued in _record)
            {
                if (!queued.IsAnswered && queued != own)
                {
                    queued.Fail(ex);
                }
            }

            throw;
        }
        finally
        {
            _record.Clear();
        }
    }

    /// <summary>
    /// Checks each group against the index and the groups accepted before it, then writes the accepted ones as one record
    /// (one checksum, so a torn record is dropped whole) with one fsync, indexes it, and answers each group.
    /// </summary>
    private void AppendLocked(List<QueuedAppend> record)
    {
        // Only the appender changes the index, so it reads it here without the lock.
        _recordVersions.Clear();
        _recordIds.Clear();
        var fresh = 0;
        foreach (var queued in record)
        {
            if (Check(queued) is { } refusal)
            {
                queued.Answer(refusal);
            }
            else
            {
                fresh += queued.Fresh;
            }
        }

        if (fresh == 0)
        {
            AnswerCommitted(record);
            return;
        }

        // Encode the accepted groups, skipping what the checks skipped: ids already stored or earlier in the record.
        _entries.Clear();
        _recordVersions.Clear();
        _recordIds.Clear();
        JournalFormat.BeginRecord(_buffer, JournalFormat.GroupKind);
        JournalFormat.WriteInt32(_buffer, fresh);
        var position = _nextPosition;
        foreach (var queued in record)
        {
            if (queued.IsAnswered)
            {
                continue;
            }

            // Index loops: foreach over the IReadOnlyList interfaces would box an enumerator per stream and commit.
            var group = queued.Group;
            for (var a = 0; a < group.Count; a++)
            {
                var append = group[a];
                for (var i = 0; i < append.Events.Count; i++)
                {
                    var e = append.Events[i];
                    if (_recentIds.Contains(e.EventId) || !_recordIds.Add(e.EventId))
                    {
                        continue;
                    }

                    var version = VersionOf(append.StreamId, _recordVersions) + 1;
                    _recordVersions[append.StreamId] = version;
                    var start = _buffer.WrittenCount;
                    JournalFormat.WriteEntry(_buffer, position, version, append.StreamId, append.StreamType, e);
                    _entries.Add((start, new JournalFormat.EntryView(
                        position, version, e.CreatedAt.ToUnixTimeMilliseconds(), e.EventId, e.SchemaVersion,
                        append.StreamId, append.StreamType, e.Type, 0, e.Data.Length)));
                    position++;
                }
            }
        }

        JournalFormat.EndRecord(_buffer);
        var bytes = _buffer.WrittenMemory;

        var segment = _segments[^1];
        if (segment.FirstPosition != 0 && segment.Length + bytes.Length > Math.Min(_options.SegmentSizeBytes, MaxSegmentBytes))
        {
            segment = RollOver(segment);
        }

        try
        {
            _files.Write(segment.Handle, bytes.Span, segment.Length);
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
        segment.Sidecar?.AddBytes(bytes.Span);
        _indexLock.EnterWriteLock();
        try
        {
            foreach (var (offset, entry) in _entries)
            {
                Index(segment, entry, recordOffset + offset);
            }

            segment.Length += bytes.Length;
        }
        finally
        {
            _indexLock.ExitWriteLock();
        }

        AnswerCommitted(record);
    }

    /// <summary>
    /// One group's checks, as if it were appended alone after the groups this record already accepted: its fresh events
    /// (ids neither stored nor earlier in the record), and each stream's expected version. Accepted: its ids and versions
    /// join the record's. Refused: the answer, and the record is as before.
    /// </summary>
    private AppendResult? Check(QueuedAppend queued)
    {
        _groupVersions.Clear();
        _groupIds.Clear();
        var fresh = 0;
        var group = queued.Group;
        for (var a = 0; a < group.Count; a++)
        {
            var append = group[a];
            var freshInAppend = 0;
            for (var i = 0; i < append.Events.Count; i++)
            {
                var e = append.Events[i];
                if (!_recentIds.Contains(e.EventId) && !_recordIds.Contains(e.EventId) && _groupIds.Add(e.EventId))
                {
                    freshInAppend++;
                }
            }

            if (freshInAppend == 0)
            {
                continue;
            }

            var actual = _groupVersions.TryGetValue(append.StreamId, out var v) ? v : VersionOf(append.StreamId, _recordVersions);
            if (append.ExpectedVersion != ExpectedVersions.Any && append.ExpectedVersion != actual)
            {
                return new AppendResult(AppendStatus.WrongExpectedVersion, 0, append.StreamId, actual);
            }

            _groupVersions[append.StreamId] = actual + freshInAppend;
            fresh += freshInAppend;
        }

        foreach (var id in _groupIds)
        {
            _recordIds.Add(id);
        }

        foreach (var (stream, version) in _groupVersions)
        {
            _recordVersions[stream] = version;
        }

        queued.Fresh = fresh;
        return null;
    }

    /// <summary>A stream's version after the record's events so far (<paramref name="inRecord"/>), else the index's.</summary>
    private long VersionOf(string streamId, Dictionary<string, long> inRecord) =>
        inRecord.TryGetValue(streamId, out var v) ? v
        : _streams.TryGetValue(streamId, out var s) ? s.Version : 0;

    private static void AnswerCommitted(List<QueuedAppend> record)
    {
        foreach (var queued in record)
        {
            if (!queued.IsAnswered)
            {
                queued.Answer(new AppendResult(AppendStatus.Committed, queued.Fresh));
            }
        }
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

    /// <summary>One caller's group waiting for the gate, and its answer once a holder has written it (or failed to).</summary>
    private sealed class QueuedAppend(IReadOnlyList<StreamAppend> group)
    {
        private AppendResult _result;
        private Exception? _sharedFailure;

        public IReadOnlyList<StreamAppend> Group { get; } = group;

        /// <summary>Its events that are neither stored nor earlier in the record (set by the checks).</summary>
        public int Fresh { get; set; }

        /// <summary>Set under the gate; read by the caller after it has held the gate, which orders the two.</summary>
        public bool IsAnswered { get; private set; }

        public void Answer(AppendResult result)
        {
            _result = result;
            IsAnswered = true;
        }

        public void Fail(Exception failure)
        {
            _sharedFailure = failure;
            IsAnswered = true;
        }

        /// <summary>The result; throws when the record holding this group failed (an exception of its own: callers may throw at once).</summary>
        public AppendResult Outcome() => _sharedFailure is null ? _result
            : throw new IOException($"The event journal could not store the record this group shared with other appends: {_sharedFailure.Message}", _sharedFailure);
    }
}
