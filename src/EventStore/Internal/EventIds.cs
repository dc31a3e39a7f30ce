using System.Buffers.Binary;

namespace SignalStream.EventStore.Internal;

/// <summary>
/// UUIDv7 event ids (RFC 9562: 48-bit Unix milliseconds, then 74 random bits), drawing the random bits from
/// <see cref="Random.Shared"/>. <see cref="Guid.CreateVersion7(DateTimeOffset)"/> asks the kernel for fresh
/// cryptographic bytes on every call — a system call per event on the writer's hot path — while an id only has to be
/// unique, not unpredictable: 74 bits of a per-process-seeded generator collide no more often than the crypto ones.
/// </summary>
internal static class EventIds
{
    public static Guid NewVersion7(DateTimeOffset createdAt)
    {
        Span<byte> bytes = stackalloc byte[16];
        Random.Shared.NextBytes(bytes[6..]);
        var milliseconds = (ulong)createdAt.ToUnixTimeMilliseconds();
        BinaryPrimitives.WriteUInt16BigEndian(bytes, (ushort)(milliseconds >> 32));
        BinaryPrimitives.WriteUInt32BigEndian(bytes[2..], (uint)milliseconds);
        bytes[6] = (byte)(0x70 | (bytes[6] & 0x0F));
        bytes[8] = (byte)(0x80 | (bytes[8] & 0x3F));
        return new Guid(bytes, bigEndian: true);
    }
}
