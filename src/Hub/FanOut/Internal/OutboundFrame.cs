using Microsoft.AspNetCore.SignalR;
using SignalStream.Hub.Transport.Internal;

namespace SignalStream.Hub.FanOut.Internal;

/// <summary>
/// One hub message in one protocol, serialized once for every connection of that protocol that receives it, in the two
/// forms a connection takes: the record for SignalR to write, and the same record already framed as a WebSocket message
/// for connections whose socket the node writes itself (<c>Hub:DirectSocketSends</c>).
/// </summary>
/// <remarks>
/// Both forms are views of one array: the frame header followed by the record. A JSON record goes in a text frame, a
/// MessagePack record in a binary frame, as SignalR's own WebSocket transport sends them.
/// </remarks>
internal sealed class OutboundFrame
{
    /// <summary>A record written in two pieces (a MessagePack length prefix, then the message), copied once.</summary>
    public OutboundFrame(WireProtocol protocol, ReadOnlySpan<byte> head, ReadOnlySpan<byte> body)
    {
        var length = head.Length + body.Length;
        var headerLength = WebSocketFraming.HeaderLength(length);
        var bytes = new byte[headerLength + length];
        if (protocol == WireProtocol.MessagePack)
        {
            WebSocketFraming.WriteBinaryHeader(bytes, length);
        }
        else
        {
            WebSocketFraming.WriteTextHeader(bytes, length);
        }

        head.CopyTo(bytes.AsSpan(headerLength));
        body.CopyTo(bytes.AsSpan(headerLength + head.Length));
        Protocol = protocol;
        WebSocketFrame = bytes;
        Record = bytes.AsMemory(headerLength);
        Message = new SerializedHubMessage([new SerializedMessage(WireProtocols.NameOf(protocol), Record)]);
    }

    public WireProtocol Protocol { get; }

    /// <summary>The record as a whole, unmasked WebSocket frame.</summary>
    public ReadOnlyMemory<byte> WebSocketFrame { get; }

    /// <summary>The record for <see cref="HubConnectionContext.WriteAsync(SerializedHubMessage, CancellationToken)"/>.</summary>
    public SerializedHubMessage Message { get; }

    /// <summary>The record alone (what the protocol writes), without the WebSocket header.</summary>
    public ReadOnlyMemory<byte> Record { get; }
}
