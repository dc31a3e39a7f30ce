using System.Buffers.Binary;
using System.Numerics;

namespace SignalStream.EventStore.Internal;

/// <summary>CRC-32C (Castagnoli), the checksum of every journal record.</summary>
/// <remarks>
/// System.IO.Hashing is not in the registry here; <see cref="BitOperations.Crc32C(uint, ulong)"/> is in the BCL and uses
/// the SSE4.2 / ARMv8 CRC instruction (a software table otherwise), 8 bytes a step.
/// </remarks>
internal static class Crc32C
{
    public static uint Compute(ReadOnlySpan<byte> data) => Extend(0, data);

    /// <summary>The checksum of a prefix whose checksum is <paramref name="crc"/> followed by <paramref name="data"/>: a segment's is kept as it grows.</summary>
    public static uint Extend(uint crc, ReadOnlySpan<byte> data)
    {
        crc = ~crc;
        while (data.Length >= 8)
        {
            crc = BitOperations.Crc32C(crc, BinaryPrimitives.ReadUInt64LittleEndian(data));
            data = data[8..];
        }

        foreach (var b in data)
        {
            crc = BitOperations.Crc32C(crc, b);
        }

        return ~crc;
    }
}
