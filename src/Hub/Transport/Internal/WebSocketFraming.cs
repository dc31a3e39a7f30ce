using System.Buffers.Binary;

namespace SignalStream.Hub.Transport.Internal;

/// <summary>
/// RFC 6455 section 5.2 for what a server writes: an unmasked frame header, and a scanner that follows a stream of such
/// frames so another writer can tell where one message ends and the next may begin.
/// </summary>
internal static class WebSocketFraming
{
    public const byte Fin = 0x80;
    public const byte TextOpcode = 0x1;
    public const byte BinaryOpcode = 0x2;
    public const byte CloseOpcode = 0x8;

    /// <summary>Bytes of the header of an unmasked frame carrying <paramref name="payloadLength"/> bytes.</summary>
    public static int HeaderLength(int payloadLength) => payloadLength switch
    {
        <= 125 => 2,
        <= ushort.MaxValue => 4,
        _ => 10,
    };

    /// <summary>Writes the header of a whole (FIN) unmasked text frame; <paramref name="destination"/> holds
    /// <see cref="HeaderLength"/> bytes.</summary>
    public static void WriteTextHeader(Span<byte> destination, int payloadLength)
    {
        destination[0] = Fin | TextOpcode;
        switch (payloadLength)
        {
            case <= 125:
                destination[1] = (byte)payloadLength;
                break;
            case <= ushort.MaxValue:
                destination[1] = 126;
                BinaryPrimitives.WriteUInt16BigEndian(destination[2..], (ushort)payloadLength);
                break;
            default:
                destination[1] = 127;
                BinaryPrimitives.WriteUInt64BigEndian(destination[2..], (ulong)payloadLength);
                break;
        }
    }

    /// <summary>Writes the header of a whole (FIN) unmasked binary frame, for a binary hub protocol's record (MessagePack);
    /// <paramref name="destination"/> holds <see cref="HeaderLength"/> bytes.</summary>
    public static void WriteBinaryHeader(Span<byte> destination, int payloadLength)
    {
        WriteTextHeader(destination, payloadLength);
        destination[0] = Fin | BinaryOpcode; // the length is encoded the same way; only the opcode differs
    }
}
