using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using Microsoft.Extensions.Logging;
using Microsoft.Win32.SafeHandles;
using SignalStream.EventStore.File.Internal;
using SignalStream.EventStore.Internal;

namespace SignalStream.EventStore.File;

internal sealed partial class FileEventStore
{
    /// <summary>
    /// Rebuilds the index: a sealed segment from its sidecar when that is valid (unless
    /// <see cref="FileJournalOptions.VerifyOnOpen"/>), by scanning it otherwise, and the last segment always by scanning.
    /// A torn tail of the last segment (its last record incomplete or failing its checksum, nothing valid after it: a
    /// group commit the crash interrupted, never acknowledged) is truncated, or in read-only mode left alone, since the
    /// owner may be writing it. Damage anywhere else in a scanned segment stops the open; a segment indexed from its
    /// sidecar is checked by the verification after open.
    /// </summary>
    private void Recover()
    {
        if (!_readOnly)
        {
            // A roll-over that failed (disk full) or crashed before its rename leaves only this; it never held an event.
            foreach (var partial in Directory.GetFiles(_options.Path, "*" + SegmentExtension + PartialSuffix))
            {
                _files.Delete(partial);
            }

            // Likewise a sidecar whose write was cut short; and one whose segment is gone (moved aside by hand).
            foreach (var partial in Directory.GetFiles(_options.Path, "*" + SegmentExtension + SegmentIndexFile.Suffix + PartialSuffix))
            {
                _files.Delete(partial);
            }

            foreach (var sidecar in Directory.GetFiles(_options.Path, "*" + SegmentExtension + SegmentIndexFile.Suffix))
            {
                if (!System.IO.File.Exists(sidecar[..^SegmentIndexFile.Suffix.Length]))
                {
                    _files.Delete(sidecar);
                }
            }
        }

        var files = ListSegments();

        // Only the newest ids stay in the de-duplication window, and adding the older ones only to evict them again was
        // most of the cost of an open from sidecars: the last sealed segment's sidecar says where the window starts at
        // the latest. Should the segments turn out to end before that (a sidecar at odds with its journal), all again.
        // Read once: indexing that segment uses the same read.
        var lastSealedPosition = 0L;
        SidecarRead? lastSealed = files.Length >= 2 ? ReadSidecarAhead(files[^2].Path, out lastSealedPosition) : null;
        _idsFrom = lastSealedPosition - _recentIds.Capacity + 1;
        IndexSegments(files, lastSealed);
        if (_nextPosition - 1 < lastSealedPosition)
        {
            ForgetIndex();
            _idsFrom = 0;
            files = ListSegments();
            IndexSegments(files, lastSealedRead: null);
        }

        _idsFrom = 0;
        if (_segments.Count == 0 && !_readOnly)
        {
            CreateSegment(files.Length == 0 ? 1 : files[^1].Index + 1);
        }
        else if (_segments.Count > 0 && !_segments[^1].IsVerified)
        {
            // A segment indexed from its sidecar that ends up the open one (the empty file after it was dropped): appends
            // will grow it past its sealed checksum, so it is compared now, as a scan would have checked it.
            var open = _segments[^1];
            EnsureVerified(open);
            if (open.DamagedFrom != long.MaxValue)
            {
                throw new InvalidDataException(
                    $"Journal segment '{open.Path}' is corrupt at byte {open.DamagedFrom} of {open.Length} and was sealed, so this is not a torn write. " +
                    "Restore the folder from a backup, or move this segment and the later ones aside to start from the older events.");
            }
        }

        Log.JournalOpened(_logger, _options.Path, _segments.Count, _nextPosition - 1, _streams.Count, _readOnly);
    }

    private (string Path, long Index)[] ListSegments() =>
        Directory.GetFiles(_options.Path, "*" + SegmentExtension)
            .Select(path => (Path: path, Index: ParseSegmentIndex(path)))
            .Where(f => f.Index > 0)
            .OrderBy(f => f.Index)
            .ToArray();

    /// <summary>Indexes <paramref name="files"/>; <paramref name="lastSealedRead"/> is the next-to-last one's sidecar, already read.</summary>
    private void IndexSegments((string Path, long Index)[] files, SidecarRead? lastSealedRead)
    {
        for (var i = 0; i < files.Length; i++)
        {
            var (path, index) = files[i];
            var isLast = i == files.Length - 1;
#pragma warning disable CA2000 // closed by the finally below unless _segments took it (the analysis sees no owner in Segment, not disposable)
            var handle = OpenSegment(path);
#pragma warning restore CA2000
            if (handle is null)
            {
                continue;
            }

            // Closed on every way out unless the segment joins _segments (whose handles the store closes).
            try
            {
                var segment = new Segment(index, path, handle);
                if (!isLast && !_options.VerifyOnOpen && TryIndexFromSidecar(segment, i == files.Length - 2 ? lastSealedRead : null))
                {
                    SegmentsIndexedFromSidecars++;
                    _segments.Add(segment);
                    handle = null;
                    continue;
                }

                segment.Sidecar = _readOnly ? null : new SegmentIndexFile.Builder();
                var bytes = ReadWhole(handle, path);
                var validLength = ScanSegment(segment, bytes, isFirst: _segments.Count == 0, out var hasCheckpoint);
                if (validLength < bytes.Length)
                {
                    if (!isLast)
                    {
                        throw new InvalidDataException(
                            $"Journal segment '{path}' is corrupt at byte {validLength} of {bytes.Length} and is not the last segment, " +
                            "so this is not a torn write. Restore the folder from a backup, or move this segment and the later ones aside to start from the older events.");
                    }

                    if (_readOnly)
                    {
                        Log.TailNotYetComplete(_logger, path, validLength, bytes.Length - validLength);
                    }
                    else
                    {
                        Log.TornTailTruncated(_logger, path, validLength, bytes.Length - validLength);
                        RandomAccess.SetLength(handle, validLength);
                        RandomAccess.FlushToDisk(handle);
                    }
                }

                segment.Length = validLength;
                segment.Sidecar?.AddBytes(bytes.AsSpan(0, (int)validLength));
                if (!isLast && hasCheckpoint)
                {
                    segment.Offsets.TrimExcess(); // closed: it grows no more

                    // Scanned for want of a usable sidecar, or by VerifyOnOpen, which has not looked at it: then only a
                    // missing one is written (rewriting them all would write ~20 B per event of the journal at every open).
                    if (!_options.VerifyOnOpen || !System.IO.File.Exists(SegmentIndexFile.PathOf(path)))
                    {
                        WriteSidecar(segment);
                    }

                    segment.Sidecar = null;
                }

                if (hasCheckpoint)
                {
                    _segments.Add(segment);
                    handle = null;
                }
                else
                {
                    // A crash between creating a segment and writing its checkpoint (journals written before segments were
                    // made under a temporary name) leaves an empty file: drop it.
                    handle.Dispose();
                    if (!isLast)
                    {
                        throw new InvalidDataException($"Journal segment '{path}' has no checkpoint record. Restore the folder from a backup.");
                    }

                    if (!_readOnly)
                    {
                        _files.Delete(path);
                    }
                }
            }
            finally
            {
                handle?.Dispose();
            }
        }
    }

    /// <summary>The segment's handle, or null when a read-only store finds it gone.</summary>
    private SafeFileHandle? OpenSegment(string path)
    {
        try
        {
            return _readOnly
                ? System.IO.File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete)
                : System.IO.File.OpenHandle(path, FileMode.Open, FileAccess.ReadWrite, FileShare.Read);
        }
        catch (FileNotFoundException) when (_readOnly && _segments.Count == 0)
        {
            // The owner's retention deleted the oldest segment after it was listed: the next one starts the journal.
            return null;
        }
    }

    private static byte[] ReadWhole(SafeFileHandle handle, string path)
    {
        var length = RandomAccess.GetLength(handle);
        if (length > int.MaxValue)
        {
            throw new InvalidDataException($"Journal segment '{path}' is {length} bytes, larger than any segment this journal writes.");
        }

        var bytes = new byte[length];
        var read = 0;
        while (read < bytes.Length)
        {
            var n = RandomAccess.Read(handle, bytes.AsSpan(read), read);
            if (n == 0)
            {
                Array.Resize(ref bytes, read); // shrank while being read (read-only beside a writer cannot see this; be safe)
                break;
            }

            read += n;
        }

        return bytes;
    }

    private static long ParseSegmentIndex(string path) =>
        long.TryParse(Path.GetFileNameWithoutExtension(path), out var index) ? index : 0;

    /// <summary>
    /// Applies every valid record of a segment to the index; returns the length of its valid prefix. Past that prefix
    /// only a torn tail may follow: a bad record with a valid record anywhere after it is corruption, and so is a record
    /// whose checksum holds but whose content does not fit the journal.
    /// </summary>
    private long ScanSegment(Segment segment, byte[] bytes, bool isFirst, out bool hasCheckpoint)
    {
        hasCheckpoint = false;
        long offset = 0;
        while (TryReadRecord(bytes, offset, out var payload))
        {
            var applied = payload[0] switch
            {
                JournalFormat.CheckpointKind when !hasCheckpoint => ApplyCheckpoint(payload[1..], isFirst, segment.Path),
                JournalFormat.GroupKind when hasCheckpoint => ApplyGroup(segment, payload[1..], offset + JournalFormat.RecordHeaderSize + 1),
                _ => false,
            };
            if (!applied)
            {
                throw new InvalidDataException(
                    $"Journal segment '{segment.Path}' is corrupt at byte {offset}: the record there has a valid checksum but does not fit the journal " +
                    $"(kind {payload[0]}{(hasCheckpoint ? string.Empty : " before the segment's checkpoint")}). Restore the folder from a backup.");
            }

            hasCheckpoint = true;
            offset += JournalFormat.RecordHeaderSize + payload.Length;
        }

        if (offset < bytes.Length && FindRecord(bytes, offset + 1) is { } next)
        {
            throw new InvalidDataException(
                $"Journal segment '{segment.Path}' is corrupt at byte {offset}: the record there is damaged (bad length or checksum), " +
                $"yet a valid record follows at byte {next}, so this is not a torn write. Nothing was truncated. " +
                "Restore the folder from a backup, or move the damaged segment aside to keep only the events before it.");
        }

        return offset;
    }

    /// <summary>A whole record at <paramref name="offset"/> whose checksum holds; its payload.</summary>
    private static bool TryReadRecord(byte[] bytes, long offset, out ReadOnlySpan<byte> payload)
    {
        payload = default;
        if (bytes.Length - offset < JournalFormat.RecordHeaderSize)
        {
            return false;
        }

        var header = bytes.AsSpan((int)offset);
        var length = BinaryPrimitives.ReadUInt32LittleEndian(header);
        if (length == 0 || length > JournalFormat.MaxRecordSize || bytes.Length - offset - JournalFormat.RecordHeaderSize < length)
        {
            return false;
        }

        var candidate = header.Slice(JournalFormat.RecordHeaderSize, (int)length);
        if (Crc32C.Compute(candidate) != BinaryPrimitives.ReadUInt32LittleEndian(header[4..]))
        {
            return false;
        }

        payload = candidate;
        return true;
    }

    /// <summary>The offset of the first valid record at or after <paramref name="from"/>, if any.</summary>
    /// <remarks>
    /// Tried at every byte, since a damaged length says nothing about where the next record starts. Cheap: most offsets
    /// fail the length or kind test before any checksum is computed, and this runs only past a bad record.
    /// </remarks>
    private static long? FindRecord(byte[] bytes, long from)
    {
        for (var p = from; p <= bytes.Length - JournalFormat.RecordHeaderSize - 1; p++)
        {
            var kind = bytes[p + JournalFormat.RecordHeaderSize];
            if (kind is (JournalFormat.GroupKind or JournalFormat.CheckpointKind) && TryReadRecord(bytes, p, out _))
            {
                return p;
            }
        }

        return null;
    }

    private bool ApplyCheckpoint(ReadOnlySpan<byte> body, bool isFirst, string path)
    {
        if (body.Length < 12)
        {
            return false;
        }

        var nextPosition = BinaryPrimitives.ReadInt64LittleEndian(body);
        var count = BinaryPrimitives.ReadInt32LittleEndian(body[8..]);
        if (!isFirst)
        {
            // Later checkpoints repeat what the earlier segments built; they must agree.
            if (nextPosition != _nextPosition)
            {
                throw new InvalidDataException(
                    $"Journal segment '{path}' starts at position {nextPosition} but the segments before it end at {_nextPosition - 1}. " +
                    "A segment is missing or was copied from another journal; restore the folder from a backup.");
            }

            return true;
        }

        _firstPosition = _nextPosition = nextPosition;
        var offset = 12;
        for (var i = 0; i < count; i++)
        {
            if (!JournalFormat.TryReadString(body, ref offset, out var id)
                || !JournalFormat.TryReadString(body, ref offset, out var type)
                || body.Length - offset < 16)
            {
                return false;
            }

            var version = BinaryPrimitives.ReadInt64LittleEndian(body[offset..]);
            var created = BinaryPrimitives.ReadInt64LittleEndian(body[(offset + 8)..]);
            offset += 16;
            _streams[id] = new StreamState(type, created) { Version = version };
        }

        return true;
    }

    /// <summary>Indexes the events of one group record; <paramref name="bodyFileOffset"/> is where <paramref name="body"/> starts in the file.</summary>
    private bool ApplyGroup(Segment segment, ReadOnlySpan<byte> body, long bodyFileOffset)
    {
        if (body.Length < 4)
        {
            return false;
        }

        var count = BinaryPrimitives.ReadInt32LittleEndian(body);
        var offset = 4;
        for (var i = 0; i < count; i++)
        {
            if (!JournalFormat.TryReadEntry(body[offset..], out var entry, out var consumed))
            {
                throw new InvalidDataException($"Journal segment '{segment.Path}': a record with a valid checksum holds an unreadable event at byte {bodyFileOffset + offset}.");
            }

            if (entry.Position != _nextPosition)
            {
                throw new InvalidDataException(
                    $"Journal segment '{segment.Path}': event at byte {bodyFileOffset + offset} has position {entry.Position}, expected {_nextPosition}.");
            }

            Index(segment, entry, bodyFileOffset + offset);
            offset += consumed;
        }

        return true;
    }

    /// <summary>Adds one committed event to the in-memory index (caller holds the write lock, or is recovering).</summary>
    private void Index(Segment segment, in JournalFormat.EntryView entry, long fileOffset)
    {
        if (!_streams.TryGetValue(entry.StreamId, out var stream))
        {
            stream = new StreamState(entry.StreamType, entry.TimestampMs);
            _streams.Add(entry.StreamId, stream);
        }

        stream.Version = entry.Version;
        stream.Positions.Add(entry.Position);
        segment.Offsets.Add((int)fileOffset);
        segment.Sidecar?.Add(entry, (int)fileOffset);
        if (entry.Position >= _idsFrom)
        {
            _recentIds.Add(entry.Position, entry.EventId);
        }

        if (segment.FirstPosition == 0)
        {
            segment.FirstPosition = entry.Position;
        }

        segment.LastPosition = entry.Position;
        segment.LastTimestampMs = Math.Max(segment.LastTimestampMs, entry.TimestampMs);
        _nextPosition = entry.Position + 1;
    }

    /// <summary>
    /// Creates a segment whose first record is a checkpoint of every stream's version. It is written and fsynced under a
    /// temporary name, then renamed: a segment file is either whole or absent, so a failed roll-over (disk full) leaves
    /// nothing behind that could fail the retry, and the retry succeeds once there is room again.
    /// </summary>
    // Optimized from its first call: it runs once a segment, too rarely for tiered compilation to promote it, and its
    // loop over every stream then ran unoptimized code and an on-stack replacement that stalled a roll-over's append
    // 20-35 ms (BENCHMARKS.md, "File journal: the append that rolls over").
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private Segment CreateSegment(long index)
    {
        var path = SegmentPath(_options.Path, index);
        var partial = path + PartialSuffix;

        // Not _buffer: a roll-over happens while it holds the group about to be written.
        var buffer = _sealing;
        buffer.ResetWrittenCount();
        JournalFormat.BeginRecord(buffer, JournalFormat.CheckpointKind);
        JournalFormat.WriteInt64(buffer, _nextPosition);
        JournalFormat.WriteInt32(buffer, _streams.Count);
        foreach (var (id, stream) in _streams)
        {
            JournalFormat.WriteString(buffer, id);
            JournalFormat.WriteString(buffer, stream.Type);
            JournalFormat.WriteInt64(buffer, stream.Version);
            JournalFormat.WriteInt64(buffer, stream.CreatedMs);
        }

        JournalFormat.EndRecord(buffer);
        var record = buffer.WrittenMemory;
        SafeFileHandle? handle = null;
        try
        {
            handle = _files.Create(partial);
            _files.Write(handle, record.Span, 0);
            _files.Flush(handle);
            _files.Rename(partial, path);
            _files.FlushFolder(_options.Path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            handle?.Dispose();
            TryDelete(partial);
            Log.RollOverFailed(_logger, path, ex);
            throw;
        }

        var segment = new Segment(index, path, handle) { Length = record.Length, Sidecar = new SegmentIndexFile.Builder() };
        segment.Sidecar.AddBytes(record.Span);
        _indexLock.EnterWriteLock();
        try
        {
            _segments.Add(segment);
        }
        finally
        {
            _indexLock.ExitWriteLock();
        }

        return segment;
    }

    private void TryDelete(string path)
    {
        try
        {
            _files.Delete(path);
        }
        catch (IOException ex)
        {
            // Left for the next open, which deletes partial segments before it scans.
            Log.PartialSegmentNotDeleted(_logger, path, ex);
        }
    }
}
