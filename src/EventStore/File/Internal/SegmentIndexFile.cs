using System.Buffers;
using System.Buffers.Binary;
using SignalStream.EventStore.Internal;

namespace SignalStream.EventStore.File.Internal;

/// <summary>
/// The sidecar of a sealed segment (<c>0000000001.seg.idx</c>): what recovery needs to index the segment without
/// parsing it, and the CRC-32C of the whole segment for the verification that follows. Format (little-endian):
/// <code>
/// i32 magic "SJIX", i32 format version (1)
/// i64 segment length, u32 crc32c(segment), i64 the segment's first 8 bytes (its checkpoint record's length and crc)
/// i64 checkpoint next position (the segment's first position), i64 newest event timestamp (ms)
/// i32 stream count, i32 entry count, i32 entry bytes
/// per stream (first appearance order): string id, string type, i64 timestamp of its first event here, i64 its last version here
/// per entry (position order): varuint (LEB128) offset - previous offset, varuint stream ordinal, 16-byte event id
/// u32 crc32c of everything before it
/// </code>
/// Positions are not stored (contiguous from the checkpoint's), nor versions per entry (a stream's grow by one per
/// event). ~20 bytes an event, 16 of them the event id the de-duplication window may need.
/// </summary>
internal sealed class SegmentIndexFile
{
    public const string Suffix = ".idx";
    public const int FormatVersion = 1;

    private const int Magic = 0x58494A53; // "SJIX"
    private const int HeaderSize = 4 + 4 + 8 + 4 + 8 + 8 + 8 + 4 + 4 + 4;

    // An entry is at least its fixed part and three empty strings (JournalFormat), so a segment holds at most this many per byte.
    private const int MinEntryBytes = 48 + 6;

    private SegmentIndexFile(long segmentLength, uint segmentCrc, long checkpointHeader, long firstPosition, long lastTimestampMs, StreamInfo[] streams, int[] offsets, int[] streamOrdinals, Guid[] eventIds)
    {
        SegmentLength = segmentLength;
        SegmentCrc = segmentCrc;
        CheckpointHeader = checkpointHeader;
        FirstPosition = firstPosition;
        LastTimestampMs = lastTimestampMs;
        Streams = streams;
        Offsets = offsets;
        StreamOrdinals = streamOrdinals;
        EventIds = eventIds;
    }

    public long SegmentLength { get; }

    public uint SegmentCrc { get; }

    /// <summary>The segment's first 8 bytes, which tie the sidecar to this segment rather than one of the same name and length.</summary>
    public long CheckpointHeader { get; }

    /// <summary>The position of the segment's first event (the next position its checkpoint records).</summary>
    public long FirstPosition { get; }

    public long LastTimestampMs { get; }

    public IReadOnlyList<StreamInfo> Streams { get; }

    public int[] Offsets { get; }

    public int[] StreamOrdinals { get; }

    public Guid[] EventIds { get; }

    public static string PathOf(string segmentPath) => segmentPath + Suffix;

    /// <summary>
    /// The most bytes the sidecar of a segment of <paramref name="segmentLength"/> bytes can have: an entry takes at most
    /// 26 bytes of it (two varints and an id) and at least <see cref="MinEntryBytes"/> of the segment, and a stream's
    /// id and type in the table are in the segment's entries too.
    /// </summary>
    public static long MaxBytesFor(long segmentLength) => HeaderSize + 4 + segmentLength;

    /// <summary>A sink for a sidecar's bytes, in order.</summary>
    public delegate void SpanWriter(ReadOnlySpan<byte> bytes);

    /// <summary>Decodes a sidecar; false with the reason (for the log) when it cannot be used.</summary>
    public static bool TryParse(ReadOnlySpan<byte> bytes, out SegmentIndexFile? index, out string problem)
    {
        index = null;
        if (bytes.Length < HeaderSize + 4)
        {
            problem = $"truncated ({bytes.Length} bytes)";
            return false;
        }

        if (BinaryPrimitives.ReadInt32LittleEndian(bytes) != Magic)
        {
            problem = "not a segment index (bad magic)";
            return false;
        }

        var version = BinaryPrimitives.ReadInt32LittleEndian(bytes[4..]);
        if (version != FormatVersion)
        {
            problem = $"format version {version}, this build reads {FormatVersion}";
            return false;
        }

        var body = bytes[..^4];
        if (Crc32C.Compute(body) != BinaryPrimitives.ReadUInt32LittleEndian(bytes[^4..]))
        {
            problem = "checksum mismatch (damaged or truncated)";
            return false;
        }

        var segmentLength = BinaryPrimitives.ReadInt64LittleEndian(body[8..]);
        var segmentCrc = BinaryPrimitives.ReadUInt32LittleEndian(body[16..]);
        var checkpointHeader = BinaryPrimitives.ReadInt64LittleEndian(body[20..]);
        var firstPosition = BinaryPrimitives.ReadInt64LittleEndian(body[28..]);
        var lastTimestampMs = BinaryPrimitives.ReadInt64LittleEndian(body[36..]);
        var streamCount = BinaryPrimitives.ReadInt32LittleEndian(body[44..]);
        var entryCount = BinaryPrimitives.ReadInt32LittleEndian(body[48..]);
        var entryBytes = BinaryPrimitives.ReadInt32LittleEndian(body[52..]);
        if (segmentLength is <= 0 or > int.MaxValue || firstPosition < 1
            || entryCount < 0 || entryCount > segmentLength / MinEntryBytes
            || streamCount < 0 || streamCount > entryCount
            || entryBytes < 0 || entryBytes > body.Length - HeaderSize)
        {
            problem = "header out of range";
            return false;
        }

        var offset = HeaderSize;
        var streams = new StreamInfo[streamCount];
        for (var i = 0; i < streamCount; i++)
        {
            if (!JournalFormat.TryReadString(body, ref offset, out var id)
                || !JournalFormat.TryReadString(body, ref offset, out var type)
                || body.Length - offset < 16)
            {
                problem = $"stream {i} of {streamCount} is unreadable";
                return false;
            }

            streams[i] = new StreamInfo(id, type, BinaryPrimitives.ReadInt64LittleEndian(body[offset..]), BinaryPrimitives.ReadInt64LittleEndian(body[(offset + 8)..]));
            offset += 16;
        }

        if (body.Length - offset != entryBytes)
        {
            problem = $"{body.Length - offset} bytes of entries, the header says {entryBytes}";
            return false;
        }

        var entries = body[offset..];
        var offsets = new int[entryCount];
        var ordinals = new int[entryCount];
        var ids = new Guid[entryCount];
        var perStream = new int[streamCount];
        long entryOffset = 0;
        var e = 0;
        for (var i = 0; i < entryCount; i++)
        {
            if (!JournalFormat.TryReadVarUInt32(entries, ref e, out var delta)
                || !JournalFormat.TryReadVarUInt32(entries, ref e, out var ordinal)
                || entries.Length - e < 16)
            {
                problem = $"entry {i} of {entryCount} is unreadable";
                return false;
            }

            entryOffset += delta;
            if (delta == 0 || entryOffset >= segmentLength || ordinal >= (uint)streamCount)
            {
                problem = $"entry {i} of {entryCount} is out of range (offset {entryOffset}, stream {ordinal})";
                return false;
            }

            offsets[i] = (int)entryOffset;
            ordinals[i] = (int)ordinal;
            ids[i] = new Guid(entries.Slice(e, 16));
            perStream[ordinal]++;
            e += 16;
        }

        if (e != entries.Length)
        {
            problem = $"{entries.Length - e} bytes after the last entry";
            return false;
        }

        for (var s = 0; s < streamCount; s++)
        {
            if (perStream[s] == 0 || streams[s].LastVersion < perStream[s])
            {
                problem = $"stream '{streams[s].Id}' has {perStream[s]} entries and last version {streams[s].LastVersion}";
                return false;
            }
        }

        index = new SegmentIndexFile(segmentLength, segmentCrc, checkpointHeader, firstPosition, lastTimestampMs, streams, offsets, ordinals, ids);
        problem = string.Empty;
        return true;
    }

    /// <summary>A stream with events in the segment: enough to create it when no earlier segment did, and its version after the segment.</summary>
    internal readonly record struct StreamInfo(string Id, string Type, long CreatedMs, long LastVersion);

    /// <summary>
    /// Collects a segment's sidecar while it is written (or scanned): its bytes' checksum and its entries, ~20 bytes
    /// each, so sealing writes the sidecar without reading the segment back. Only the open segment has one.
    /// </summary>
    internal sealed class Builder
    {
        // Entries go into fixed chunks rather than one doubling array: an append pays for them once (~20 B an event),
        // not again for every copy a growing array makes.
        private const int ChunkSize = 64 * 1024;
        private const int MaxEntrySize = 5 + 5 + 16;

        private readonly List<byte[]> _chunks = [];
        private readonly Dictionary<string, int> _ordinals = new(StringComparer.Ordinal);
        private readonly List<StreamInfo> _streams = [];
        private int _chunkUsed = ChunkSize;
        private int _entryBytes;
        private int _lastOffset;
        private int _count;
        private uint _crc;
        private long _bytes;
        private long _checkpointHeader;
        private long _firstPosition;
        private long _lastTimestampMs;

        /// <summary>Bytes appended to the segment, in order (its first record is its checkpoint).</summary>
        public void AddBytes(ReadOnlySpan<byte> bytes)
        {
            if (_bytes == 0 && bytes.Length >= 8)
            {
                _checkpointHeader = BinaryPrimitives.ReadInt64LittleEndian(bytes);
            }

            _crc = Crc32C.Extend(_crc, bytes);
            _bytes += bytes.Length;
        }

        /// <summary>The next event of the segment, at <paramref name="offset"/> in it.</summary>
        public void Add(in JournalFormat.EntryView entry, int offset)
        {
            if (!_ordinals.TryGetValue(entry.StreamId, out var ordinal))
            {
                ordinal = _streams.Count;
                _ordinals.Add(entry.StreamId, ordinal);
                _streams.Add(new StreamInfo(entry.StreamId, entry.StreamType, entry.TimestampMs, entry.Version));
            }
            else
            {
                _streams[ordinal] = _streams[ordinal] with { LastVersion = entry.Version };
            }

            if (_count == 0)
            {
                _firstPosition = entry.Position;
            }

            Span<byte> encoded = stackalloc byte[MaxEntrySize];
            var n = JournalFormat.WriteVarUInt32(encoded, (uint)(offset - _lastOffset));
            n += JournalFormat.WriteVarUInt32(encoded[n..], (uint)ordinal);
            entry.EventId.TryWriteBytes(encoded[n..]);
            Append(encoded[..(n + 16)]);
            _lastOffset = offset;
            _lastTimestampMs = Math.Max(_lastTimestampMs, entry.TimestampMs);
            _count++;
        }

        /// <summary>
        /// Writes the sidecar of the segment as it stands; <paramref name="checkpointNextPosition"/> for a segment without
        /// events. <paramref name="head"/> is scratch for the header and the streams (its contents are replaced).
        /// </summary>
        public void WriteTo(SpanWriter write, long checkpointNextPosition, ArrayBufferWriter<byte> head)
        {
            head.ResetWrittenCount();
            JournalFormat.WriteInt32(head, Magic);
            JournalFormat.WriteInt32(head, FormatVersion);
            JournalFormat.WriteInt64(head, _bytes);
            JournalFormat.WriteInt32(head, (int)_crc);
            JournalFormat.WriteInt64(head, _checkpointHeader);
            JournalFormat.WriteInt64(head, _count == 0 ? checkpointNextPosition : _firstPosition);
            JournalFormat.WriteInt64(head, _lastTimestampMs);
            JournalFormat.WriteInt32(head, _streams.Count);
            JournalFormat.WriteInt32(head, _count);
            JournalFormat.WriteInt32(head, _entryBytes);
            foreach (var stream in _streams)
            {
                JournalFormat.WriteString(head, stream.Id);
                JournalFormat.WriteString(head, stream.Type);
                JournalFormat.WriteInt64(head, stream.CreatedMs);
                JournalFormat.WriteInt64(head, stream.LastVersion);
            }

            write(head.WrittenSpan);
            var crc = Crc32C.Compute(head.WrittenSpan);
            for (var c = 0; c < _chunks.Count; c++)
            {
                var chunk = _chunks[c].AsSpan(0, c == _chunks.Count - 1 ? _chunkUsed : ChunkSize);
                write(chunk);
                crc = Crc32C.Extend(crc, chunk);
            }

            Span<byte> trailer = stackalloc byte[4];
            BinaryPrimitives.WriteUInt32LittleEndian(trailer, crc);
            write(trailer);
        }

        private void Append(ReadOnlySpan<byte> bytes)
        {
            while (bytes.Length > 0)
            {
                if (_chunkUsed == ChunkSize)
                {
                    _chunks.Add(new byte[ChunkSize]);
                    _chunkUsed = 0;
                }

                var n = Math.Min(bytes.Length, ChunkSize - _chunkUsed);
                bytes[..n].CopyTo(_chunks[^1].AsSpan(_chunkUsed));
                _chunkUsed += n;
                _entryBytes += n;
                bytes = bytes[n..];
            }
        }
    }
}
