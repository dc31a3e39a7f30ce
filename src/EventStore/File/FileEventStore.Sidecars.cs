using System.Buffers.Binary;
using Microsoft.Win32.SafeHandles;
using SignalStream.EventStore.File.Internal;

namespace SignalStream.EventStore.File;

internal sealed partial class FileEventStore
{
    /// <summary>Sealed segments the open indexed from their sidecars rather than by scanning them.</summary>
    internal int SegmentsIndexedFromSidecars { get; private set; }

    /// <summary>
    /// Indexes a sealed segment from its sidecar, reading of the segment only its first 8 bytes (and its checkpoint
    /// record when it is the first segment kept). False, with nothing indexed, when there is no usable sidecar: the
    /// caller scans the segment, which finds any damage the way it always did. <paramref name="readAhead"/>: the sidecar
    /// as the open already read it (the last sealed one, for the de-duplication window's bound), not read again.
    /// </summary>
    private bool TryIndexFromSidecar(Segment segment, SidecarRead? readAhead)
    {
        var sidecarPath = SegmentIndexFile.PathOf(segment.Path);
        var length = RandomAccess.GetLength(segment.Handle);
        var (sidecar, problem) = readAhead ?? ReadSidecar(sidecarPath, length);
        if (sidecar is null && problem.Length == 0)
        {
            Log.SidecarMissing(_logger, segment.Path);
            return false;
        }

        if (sidecar is null)
        {
            Log.SidecarNotUsed(_logger, sidecarPath, problem);
            return false;
        }

        Span<byte> head = stackalloc byte[JournalFormat.RecordHeaderSize];
        if (sidecar.SegmentLength != length)
        {
            problem = $"it records a segment of {sidecar.SegmentLength} bytes, the segment has {length}";
        }
        else if (RandomAccess.Read(segment.Handle, head, 0) != head.Length || BinaryPrimitives.ReadInt64LittleEndian(head) != sidecar.CheckpointHeader)
        {
            problem = "it was written for another segment of this name (the checkpoint record differs)";
        }
        else if (_segments.Count == 0 && !TryApplyFirstCheckpoint(segment, head))
        {
            problem = "the segment's checkpoint record is unreadable";
        }
        else if (sidecar.FirstPosition != _nextPosition)
        {
            problem = $"it starts at position {sidecar.FirstPosition}, the segments before it end at {_nextPosition - 1}";
        }

        if (problem.Length > 0)
        {
            Log.SidecarNotUsed(_logger, sidecarPath, problem);
            return false;
        }

        var states = new StreamState[sidecar.Streams.Count];
        for (var s = 0; s < states.Length; s++)
        {
            var info = sidecar.Streams[s];
            if (!_streams.TryGetValue(info.Id, out var state))
            {
                state = new StreamState(info.Type, info.CreatedMs);
                _streams.Add(info.Id, state);
            }

            states[s] = state;
        }

        var offsets = sidecar.Offsets;
        var position = _nextPosition;
        segment.Offsets.Capacity = offsets.Length;
        for (var i = 0; i < offsets.Length; i++)
        {
            states[sidecar.StreamOrdinals[i]].Positions.Add(position);
            segment.Offsets.Add(offsets[i]);
            if (position >= _idsFrom)
            {
                _recentIds.Add(position, sidecar.EventIds[i]);
            }

            position++;
        }

        for (var s = 0; s < states.Length; s++)
        {
            states[s].Version = sidecar.Streams[s].LastVersion;
        }

        segment.Length = length;
        if (offsets.Length > 0)
        {
            segment.FirstPosition = _nextPosition;
            segment.LastPosition = position - 1;
        }

        segment.LastTimestampMs = sidecar.LastTimestampMs;
        segment.ExpectedCrc = sidecar.SegmentCrc;
        _nextPosition = position;
        return true;
    }

    /// <summary>
    /// The last sealed segment's sidecar, read before indexing starts for the last position it records
    /// (<paramref name="lastPosition"/>, 0 when none is usable), which bounds the de-duplication window. Indexing then
    /// uses this read rather than reading and parsing the sidecar a second time.
    /// </summary>
    private static SidecarRead ReadSidecarAhead(string segmentPath, out long lastPosition)
    {
        lastPosition = 0;
        try
        {
            var length = new FileInfo(segmentPath).Length;
            var read = ReadSidecar(SegmentIndexFile.PathOf(segmentPath), length);
            if (read.Sidecar is { } sidecar && sidecar.SegmentLength == length)
            {
                lastPosition = sidecar.FirstPosition + sidecar.Offsets.Length - 1;
            }

            return read;
        }
        catch (FileNotFoundException)
        {
            return new SidecarRead(null, string.Empty); // a read-only open's owner deleted the segment since: indexing skips it too
        }
    }

    /// <summary>A sidecar read and parsed, or why not (<see cref="Problem"/> empty with no sidecar: there is none).</summary>
    private readonly record struct SidecarRead(SegmentIndexFile? Sidecar, string Problem);

    /// <summary>Reads and parses a sidecar; see <see cref="ReadSidecarBytes"/> for what is refused unread.</summary>
    private static SidecarRead ReadSidecar(string path, long segmentLength)
    {
        if (ReadSidecarBytes(path, segmentLength, out var problem) is not { } bytes)
        {
            return new SidecarRead(null, problem);
        }

        return SegmentIndexFile.TryParse(bytes, out var sidecar, out problem) ? new SidecarRead(sidecar, string.Empty) : new SidecarRead(null, problem);
    }

    /// <summary>
    /// A sidecar's bytes, or null: missing (<paramref name="problem"/> empty), or refused before it is read whole (larger
    /// than any sidecar of a segment of <paramref name="segmentLength"/> bytes, or unreadable), so a stray or damaged
    /// file costs no more memory than a real one and never stops the open: the segment is scanned instead.
    /// </summary>
    private static byte[]? ReadSidecarBytes(string path, long segmentLength, out string problem)
    {
        problem = "";
        try
        {
            using var handle = System.IO.File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.Read);
            var length = RandomAccess.GetLength(handle);
            if (length > SegmentIndexFile.MaxBytesFor(segmentLength))
            {
                problem = $"it has {length} bytes, more than the sidecar of a {segmentLength}-byte segment can";
                return null;
            }

            var bytes = new byte[length];
            if (ReadAtMost(handle, bytes, 0) != bytes.Length)
            {
                problem = "it ended while it was read";
                return null;
            }

            return bytes;
        }
        catch (FileNotFoundException)
        {
            return null;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            problem = $"it could not be read ({ex.Message})";
            return null;
        }
    }

    /// <summary>Applies the checkpoint record of the first segment kept (the streams its older events left).</summary>
    private bool TryApplyFirstCheckpoint(Segment segment, ReadOnlySpan<byte> head)
    {
        var length = BinaryPrimitives.ReadUInt32LittleEndian(head);
        if (length is 0 or > JournalFormat.MaxRecordSize || length > RandomAccess.GetLength(segment.Handle) - JournalFormat.RecordHeaderSize)
        {
            return false;
        }

        var record = new byte[JournalFormat.RecordHeaderSize + length];
        if (ReadAtMost(segment.Handle, record, 0) != record.Length
            || !TryReadRecord(record, 0, out var payload)
            || payload[0] != JournalFormat.CheckpointKind)
        {
            return false;
        }

        return ApplyCheckpoint(payload[1..], isFirst: true, segment.Path);
    }

    private static int ReadAtMost(SafeFileHandle handle, Span<byte> span, long offset)
    {
        var read = 0;
        while (read < span.Length)
        {
            var n = RandomAccess.Read(handle, span[read..], offset + read);
            if (n == 0)
            {
                break;
            }

            read += n;
        }

        return read;
    }

    /// <summary>
    /// Writes the sidecar of a sealed segment (collected while it was written or scanned): under a temporary name,
    /// fsynced, renamed, the folder fsynced, as segments are. A failure costs only a scan at the next open, so it is
    /// logged and the journal goes on.
    /// </summary>
    private void WriteSidecar(Segment segment)
    {
        var builder = segment.Sidecar;
        if (builder is null)
        {
            return;
        }

        segment.Sidecar = null;
        var path = SegmentIndexFile.PathOf(segment.Path);
        var partial = path + PartialSuffix;
        try
        {
            using (var handle = _files.Create(partial))
            {
                long written = 0;
                builder.WriteTo(
                    bytes =>
                    {
                        _files.Write(handle, bytes, written);
                        written += bytes.Length;
                    },
                    _nextPosition,
                    _sealing);
                _files.Flush(handle);
            }

            _files.Rename(partial, path);
            _files.FlushFolder(_options.Path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            TryDelete(partial);
            Log.SidecarNotWritten(_logger, path, ex);
        }
    }
}
