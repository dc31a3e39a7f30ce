using System.Buffers.Binary;
using Microsoft.Extensions.Logging;
using SignalStream.Engine.Events.Internal;

namespace SignalStream.Engine.Events.File;

internal sealed partial class FileEventStore
{
    /// <summary>Scans every segment, rebuilds the index, and truncates a torn tail of the last segment.</summary>
    private void Recover()
    {
        var files = Directory.GetFiles(_options.Path, "*" + SegmentExtension)
            .Select(path => (Path: path, Index: ParseSegmentIndex(path)))
            .Where(f => f.Index > 0)
            .OrderBy(f => f.Index)
            .ToArray();

        for (var i = 0; i < files.Length; i++)
        {
            var (path, index) = files[i];
            var isLast = i == files.Length - 1;
            var bytes = System.IO.File.ReadAllBytes(path);
            var handle = System.IO.File.OpenHandle(path, FileMode.Open, FileAccess.ReadWrite, FileShare.Read);
            var segment = new Segment(index, path, handle);
            var validLength = ScanSegment(segment, bytes, isFirst: _segments.Count == 0, out var hasCheckpoint);
            if (validLength < bytes.Length)
            {
                if (!isLast)
                {
                    handle.Dispose();
                    throw new InvalidDataException(
                        $"Journal segment '{path}' is corrupt at byte {validLength} of {bytes.Length} and is not the last segment, " +
                        "so this is not a torn write. Restore the folder from a backup, or move this segment and the later ones aside to start from the older events.");
                }

                Log.TornTailTruncated(_logger, path, validLength, bytes.Length - validLength);
                RandomAccess.SetLength(handle, validLength);
                RandomAccess.FlushToDisk(handle);
            }

            segment.Length = validLength;
            if (!hasCheckpoint)
            {
                // A crash between creating a segment and writing its checkpoint leaves an empty file: drop it.
                handle.Dispose();
                if (!isLast)
                {
                    throw new InvalidDataException($"Journal segment '{path}' has no checkpoint record. Restore the folder from a backup.");
                }

                System.IO.File.Delete(path);
                continue;
            }

            _segments.Add(segment);
        }

        if (_segments.Count == 0)
        {
            CreateSegment(files.Length == 0 ? 1 : files[^1].Index + 1);
        }

        Log.JournalOpened(_logger, _options.Path, _segments.Count, _nextPosition - 1, _streams.Count);
    }

    private static long ParseSegmentIndex(string path) =>
        long.TryParse(Path.GetFileNameWithoutExtension(path), out var index) ? index : 0;

    /// <summary>Applies every valid record of a segment to the index; returns the length of its valid prefix.</summary>
    private long ScanSegment(Segment segment, byte[] bytes, bool isFirst, out bool hasCheckpoint)
    {
        hasCheckpoint = false;
        long offset = 0;
        while (bytes.Length - offset >= JournalFormat.RecordHeaderSize)
        {
            var header = bytes.AsSpan((int)offset);
            var length = BinaryPrimitives.ReadUInt32LittleEndian(header);
            var crc = BinaryPrimitives.ReadUInt32LittleEndian(header[4..]);
            if (length == 0 || length > JournalFormat.MaxRecordSize || bytes.Length - offset - JournalFormat.RecordHeaderSize < length)
            {
                break;
            }

            var payload = header.Slice(JournalFormat.RecordHeaderSize, (int)length);
            if (Crc32C.Compute(payload) != crc)
            {
                break;
            }

            var applied = payload[0] switch
            {
                JournalFormat.CheckpointKind when !hasCheckpoint => ApplyCheckpoint(payload[1..], isFirst, segment.Path),
                JournalFormat.GroupKind when hasCheckpoint => ApplyGroup(segment, payload[1..], offset + JournalFormat.RecordHeaderSize + 1),
                _ => false,
            };
            if (!applied)
            {
                break;
            }

            hasCheckpoint = true;
            offset += JournalFormat.RecordHeaderSize + length;
        }

        return offset;
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

            Index(segment, entry, bodyFileOffset + offset, consumed);
            offset += consumed;
        }

        return true;
    }

    /// <summary>Adds one committed event to the in-memory index (caller holds the write lock, or is recovering).</summary>
    private void Index(Segment segment, in JournalFormat.EntryView entry, long fileOffset, int length)
    {
        if (!_streams.TryGetValue(entry.StreamId, out var stream))
        {
            stream = new StreamState(entry.StreamType, entry.TimestampMs);
            _streams.Add(entry.StreamId, stream);
        }

        stream.Version = entry.Version;
        stream.Positions.Add(entry.Position);
        _locations.Add(new EventLocation(segment, fileOffset, length, entry.EventId));
        _eventIds.Add(entry.EventId);
        if (segment.FirstPosition == 0)
        {
            segment.FirstPosition = entry.Position;
        }

        segment.LastPosition = entry.Position;
        segment.LastTimestampMs = Math.Max(segment.LastTimestampMs, entry.TimestampMs);
        _nextPosition = entry.Position + 1;
    }

    /// <summary>Creates a segment whose first record is a checkpoint of every stream's version.</summary>
    private Segment CreateSegment(long index)
    {
        var path = SegmentPath(_options.Path, index);
        var handle = System.IO.File.OpenHandle(path, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.Read);
        var segment = new Segment(index, path, handle);

        // Its own buffer: a roll-over happens while _buffer holds the group about to be written.
        var buffer = new System.Buffers.ArrayBufferWriter<byte>(1024);
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
        RandomAccess.Write(handle, record.Span, 0);
        RandomAccess.FlushToDisk(handle);
        DirectorySync.Flush(_options.Path);
        segment.Length = record.Length;
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
}
