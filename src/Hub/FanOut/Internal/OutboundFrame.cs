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
    private SerializedHubMessage? _message;

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
    }

    public WireProtocol Protocol { get; }

    /// <summary>The record as a whole, unmasked WebSocket frame.</summary>
    public ReadOnlyMemory<byte> WebSocketFrame { get; }

    /// <summary>The record for <see cref="HubConnectionContext.WriteAsync(SerializedHubMessage, CancellationToken)"/>.</summary>
    /// <remarks>
    /// Built on first use: with <c>Hub:DirectSocketSends</c> (the default) no connection writes through SignalR, and
    /// building it for every frame was two objects a candle or signal that nothing read (~0.7 MB a closing bell of
    /// 2,000 streams). Two threads racing here build two equal messages over the same bytes; either is right.
    /// </remarks>
    public SerializedHubMessage Message => _message ??= new SerializedHubMessage([new SerializedMessage(WireProtocols.NameOf(Protocol), Record)]);

    /// <summary>The record alone (what the protocol writes), without the WebSocket header.</summary>
    public ReadOnlyMemory<byte> Record { get; }
}
