using System.Buffers;
using System.Buffers.Binary;
using System.Text;
using SignalStream.EventStore.Internal;

namespace SignalStream.EventStore.File;

/// <summary>
/// The journal's on-disk format. A segment is a sequence of records: <c>[u32 length][u32 crc32c(payload)][payload]</c>,
/// little-endian. The payload's first byte is its kind: a checkpoint (first record of every segment: the versions of
/// every stream, so older segments can be deleted) or a group (one group commit: all its events or none, because a
/// torn group fails its checksum as a whole).
/// </summary>
internal static class JournalFormat
{
    public const int RecordHeaderSize = 8;
    public const byte CheckpointKind = 2;
    public const byte GroupKind = 1;

    /// <summary>Records larger than this are corruption (a group of 8k events of 4 KB each is 32 MB).</summary>
    public const int MaxRecordSize = 256 * 1024 * 1024;

    // Fixed part of an event entry: position, version, timestamp (ms), event id, schema version, data length.
    private const int EntryFixedSize = 8 + 8 + 8 + 16 + 4 + 4;

    public static void BeginRecord(ArrayBufferWriter<byte> writer, byte kind)
    {
        writer.ResetWrittenCount();
        writer.GetSpan(RecordHeaderSize + 1)[RecordHeaderSize] = kind;
        writer.Advance(RecordHeaderSize + 1);
    }

    /// <summary>Fills the length and checksum of the record written into <paramref name="writer"/>.</summary>
    public static void EndRecord(ArrayBufferWriter<byte> writer)
    {
        var record = System.Runtime.InteropServices.MemoryMarshal.AsMemory(writer.WrittenMemory).Span;
        var payload = record[RecordHeaderSize..];
        BinaryPrimitives.WriteUInt32LittleEndian(record, (uint)payload.Length);
        BinaryPrimitives.WriteUInt32LittleEndian(record[4..], Crc32C.Compute(payload));
    }

    public static void WriteInt32(ArrayBufferWriter<byte> writer, int value)
    {
        BinaryPrimitives.WriteInt32LittleEndian(writer.GetSpan(4), value);
        writer.Advance(4);
    }

    public static void WriteInt64(ArrayBufferWriter<byte> writer, long value)
    {
        BinaryPrimitives.WriteInt64LittleEndian(writer.GetSpan(8), value);
        writer.Advance(8);
    }

    /// <summary>Writes <paramref name="value"/> in 1 to 5 bytes, 7 bits each, low first (LEB128): small values stay small. Returns the bytes written.</summary>
    public static int WriteVarUInt32(Span<byte> span, uint value)
    {
        var n = 0;
        while (value >= 0x80)
        {
            span[n++] = (byte)(value | 0x80);
            value >>= 7;
        }

        span[n++] = (byte)value;
        return n;
    }

    public static bool TryReadVarUInt32(ReadOnlySpan<byte> span, ref int offset, out uint value)
    {
        value = 0;
        for (var shift = 0; shift < 35 && offset < span.Length; shift += 7)
        {
            var b = span[offset++];
            value |= (uint)(b & 0x7F) << shift;
            if (b < 0x80)
            {
                return shift < 28 || b < 0x10;
            }
        }

        return false;
    }

    public static void WriteString(ArrayBufferWriter<byte> writer, string value)
    {
        var length = Encoding.UTF8.GetByteCount(value);
        if (length > ushort.MaxValue)
        {
            throw new ArgumentException($"'{value[..40]}…' is longer than {ushort.MaxValue} UTF-8 bytes.", nameof(value));
        }

        var span = writer.GetSpan(2 + length);
        BinaryPrimitives.WriteUInt16LittleEndian(span, (ushort)length);
        Encoding.UTF8.GetBytes(value, span[2..]);
        writer.Advance(2 + length);
    }

    public static void WriteEntry(ArrayBufferWriter<byte> writer, long position, long version, string streamId, string streamType, EventData data)
    {
        var span = writer.GetSpan(EntryFixedSize);
        BinaryPrimitives.WriteInt64LittleEndian(span, position);
        BinaryPrimitives.WriteInt64LittleEndian(span[8..], version);
        BinaryPrimitives.WriteInt64LittleEndian(span[16..], data.CreatedAt.ToUnixTimeMilliseconds());
        data.EventId.TryWriteBytes(span[24..40]);
        BinaryPrimitives.WriteInt32LittleEndian(span[40..], data.SchemaVersion);
        BinaryPrimitives.WriteInt32LittleEndian(span[44..], data.Data.Length);
        writer.Advance(EntryFixedSize);
        WriteString(writer, streamId);
        WriteString(writer, streamType);
        WriteString(writer, data.Type);
        writer.Write(data.Data.Span);
    }

    /// <summary>Reads one event entry; <paramref name="consumed"/> is its length.</summary>
    public static bool TryReadEntry(ReadOnlySpan<byte> span, out EntryView entry, out int consumed)
    {
        entry = default;
        consumed = 0;
        if (span.Length < EntryFixedSize)
        {
            return false;
        }

        var position = BinaryPrimitives.ReadInt64LittleEndian(span);
        var version = BinaryPrimitives.ReadInt64LittleEndian(span[8..]);
        var timestamp = BinaryPrimitives.ReadInt64LittleEndian(span[16..]);
        var eventId = new Guid(span[24..40]);
        var schemaVersion = BinaryPrimitives.ReadInt32LittleEndian(span[40..]);
        var dataLength = BinaryPrimitives.ReadInt32LittleEndian(span[44..]);
        var offset = EntryFixedSize;
        if (!TryReadString(span, ref offset, out var streamId)
            || !TryReadString(span, ref offset, out var streamType)
            || !TryReadString(span, ref offset, out var type)
            || dataLength < 0
            || span.Length - offset < dataLength)
        {
            return false;
        }

        entry = new EntryView(position, version, timestamp, eventId, schemaVersion, streamId, streamType, type, offset, dataLength);
        consumed = offset + dataLength;
        return true;
    }

    public static bool TryReadString(ReadOnlySpan<byte> span, ref int offset, out string value)
    {
        value = string.Empty;
        if (span.Length - offset < 2)
        {
            return false;
        }

        var length = BinaryPrimitives.ReadUInt16LittleEndian(span[offset..]);
        if (span.Length - offset - 2 < length)
        {
            return false;
        }

        value = Encoding.UTF8.GetString(span.Slice(offset + 2, length));
        offset += 2 + length;
        return true;
    }

    /// <summary>An event entry as parsed from a record; <see cref="DataOffset"/> is relative to the entry's start.</summary>
    internal readonly record struct EntryView(
        long Position,
        long Version,
        long TimestampMs,
        Guid EventId,
        int SchemaVersion,
        string StreamId,
        string StreamType,
        string Type,
        int DataOffset,
        int DataLength)
    {
        /// <param name="entry">The entry's bytes, as read.</param>
        /// <param name="withData">False leaves the data out (a reader that only counts this type): nothing is copied.</param>
        public StoredEvent ToStoredEvent(ReadOnlySpan<byte> entry, bool withData = true) => new(
            Position,
            StreamId,
            Version,
            EventId,
            Type,
            SchemaVersion,
            withData ? entry.Slice(DataOffset, DataLength).ToArray() : ReadOnlyMemory<byte>.Empty,
            DateTimeOffset.FromUnixTimeMilliseconds(TimestampMs));
    }
}
