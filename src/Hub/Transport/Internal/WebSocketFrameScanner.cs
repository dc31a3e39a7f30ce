using System.Buffers.Binary;

namespace SignalStream.Hub.Transport.Internal;

/// <summary>
/// Follows the frames another writer (the WebSocket) puts on a connection, byte by byte across however its writes are
/// cut, and says whether the connection is between messages: no frame half written and no fragmented data message open.
/// Only then may a whole frame from elsewhere go out without corrupting the stream.
/// </summary>
/// <remarks>Control frames (close, ping, pong) may come between the fragments of a message and do not end it.</remarks>
internal sealed class WebSocketFrameScanner
{
    private const int MaxHeaderLength = 14;
    private readonly byte[] _header = new byte[MaxHeaderLength];
    private int _headerFilled;
    private long _payloadLeft;
    private bool _messageOpen;

    /// <summary>True while a frame is partly written or a fragmented data message has not had its final frame.</summary>
    public bool InsideMessage => _messageOpen || _headerFilled > 0 || _payloadLeft > 0;

    /// <summary>True once a close frame has been seen: nothing may follow it.</summary>
    public bool SawClose { get; private set; }

    public void Scan(ReadOnlySpan<byte> written)
    {
        while (!written.IsEmpty)
        {
            if (_payloadLeft > 0)
            {
                var skipped = (int)Math.Min(_payloadLeft, written.Length);
                _payloadLeft -= skipped;
                written = written[skipped..];
                continue;
            }

            _header[_headerFilled++] = written[0];
            written = written[1..];
            if (_headerFilled >= 2 && _headerFilled == NeededHeaderLength())
            {
                EndHeader();
            }
        }
    }

    private int NeededHeaderLength()
    {
        var length = (_header[1] & 0x7f) switch
        {
            126 => 4,
            127 => 10,
            _ => 2,
        };
        return (_header[1] & 0x80) != 0 ? length + 4 : length;
    }

    private void EndHeader()
    {
        var fin = (_header[0] & WebSocketFraming.Fin) != 0;
        var opcode = _header[0] & 0x0f;
        _payloadLeft = (_header[1] & 0x7f) switch
        {
            126 => BinaryPrimitives.ReadUInt16BigEndian(_header.AsSpan(2)),
            127 => (long)BinaryPrimitives.ReadUInt64BigEndian(_header.AsSpan(2)),
            var small => small,
        };
        _headerFilled = 0;
        if (opcode < WebSocketFraming.CloseOpcode)
        {
            _messageOpen = !fin; // a data frame (text, binary or continuation): the message ends with its FIN frame
        }
        else if (opcode == WebSocketFraming.CloseOpcode)
        {
            SawClose = true;
        }
    }
}
