using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;

namespace SignalStream.Testing;

/// <summary>
/// The client side of RFC 6455 as bytes, for clients that talk to a hub on a plain socket (the hostile test client, the
/// load harness's lean clients): the upgrade request and the accept it must be answered with, masked client frames,
/// and server frame headers read from what was received.
/// </summary>
public static class WebSocketFrames
{
    private const string AcceptGuid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

    /// <summary>The upgrade request for <paramref name="endpoint"/> with a fresh key, and the <c>Sec-WebSocket-Accept</c>
    /// value a server that accepts it must send back (RFC 6455 section 4.2.2).</summary>
    public static (byte[] Request, string ExpectedAccept) UpgradeRequest(Uri endpoint)
    {
        ArgumentNullException.ThrowIfNull(endpoint);
        var key = Convert.ToBase64String(RandomNumberGenerator.GetBytes(16));
        var request = $"GET {endpoint.PathAndQuery} HTTP/1.1\r\nHost: {endpoint.Authority}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
            $"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n";
#pragma warning disable CA5350 // RFC 6455 4.2.2: Sec-WebSocket-Accept is SHA-1 by protocol, not a security choice
        var accept = Convert.ToBase64String(SHA1.HashData(Encoding.ASCII.GetBytes(key + AcceptGuid)));
#pragma warning restore CA5350
        return (Encoding.ASCII.GetBytes(request), accept);
    }

    /// <summary>One frame as a client sends it: <paramref name="head"/> is the first byte (FIN, the reserved bits, the
    /// opcode); the payload is masked with a fresh key (section 5.3) unless <paramref name="masked"/> is false, which
    /// only a test of the server's refusal wants.</summary>
    public static byte[] ClientFrame(byte head, ReadOnlySpan<byte> payload, bool masked = true)
    {
        var headerLength = payload.Length <= 125 ? 2 : payload.Length <= ushort.MaxValue ? 4 : 10;
        var frame = new byte[headerLength + (masked ? 4 : 0) + payload.Length];
        frame[0] = head;
        var maskBit = masked ? 0x80 : 0;
        switch (headerLength)
        {
            case 2:
                frame[1] = (byte)(maskBit | payload.Length);
                break;
            case 4:
                frame[1] = (byte)(maskBit | 126);
                BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(2), (ushort)payload.Length);
                break;
            default:
                frame[1] = (byte)(maskBit | 127);
                BinaryPrimitives.WriteUInt64BigEndian(frame.AsSpan(2), (ulong)payload.Length);
                break;
        }

        var body = frame.AsSpan(headerLength + (masked ? 4 : 0));
        payload.CopyTo(body);
        if (masked)
        {
            var mask = frame.AsSpan(headerLength, 4);
            RandomNumberGenerator.Fill(mask);
            for (var i = 0; i < body.Length; i++)
            {
                body[i] ^= mask[i & 3];
            }
        }

        return frame;
    }

    /// <summary>Reads the header of the frame at the start of <paramref name="buffered"/>: false while the header or the
    /// payload is not all there yet. A server never masks (section 5.1): <paramref name="masked"/> says whether this one
    /// did, and <paramref name="headerLength"/> then counts the masking key.</summary>
    public static bool TryReadHeader(ReadOnlySpan<byte> buffered, out int headerLength, out int payloadLength, out bool masked)
    {
        headerLength = 0;
        payloadLength = 0;
        masked = false;
        if (buffered.Length < 2)
        {
            return false;
        }

        var (header, length) = (buffered[1] & 0x7f) switch
        {
            126 when buffered.Length >= 4 => (4, (long)BinaryPrimitives.ReadUInt16BigEndian(buffered[2..])),
            127 when buffered.Length >= 10 => (10, (long)BinaryPrimitives.ReadUInt64BigEndian(buffered[2..])),
            126 or 127 => (-1, 0L),
            var small => (2, (long)small),
        };
        masked = (buffered[1] & 0x80) != 0;
        if (header < 0)
        {
            return false;
        }

        header += masked ? 4 : 0;
        if (length > int.MaxValue - header)
        {
            throw new InvalidDataException($"a frame of {length} bytes: more than a client here ever buffers");
        }

        if (buffered.Length < header + length)
        {
            return false;
        }

        (headerLength, payloadLength) = (header, (int)length);
        return true;
    }
}
