using Microsoft.AspNetCore.SignalR;
using SignalStream.Hub.Transport.Internal;

namespace SignalStream.Hub.FanOut.Internal;

/// <summary>
/// One hub message serialized once for every connection that receives it, in the two forms a connection takes: the
/// JSON-protocol record for SignalR to write, and the same record already framed as a WebSocket text message for
/// connections whose socket the node writes itself (<c>Hub:DirectSocketSends</c>).
/// </summary>
/// <remarks>Both forms are views of one array: the frame header followed by the record.</remarks>
internal sealed class OutboundFrame
{
    public OutboundFrame(ReadOnlySpan<byte> record)
    {
        var headerLength = WebSocketFraming.HeaderLength(record.Length);
        var bytes = new byte[headerLength + record.Length];
        WebSocketFraming.WriteTextHeader(bytes, record.Length);
        record.CopyTo(bytes.AsSpan(headerLength));
        WebSocketFrame = bytes;
        Message = new SerializedHubMessage([new SerializedMessage(HubFrames.ProtocolName, bytes.AsMemory(headerLength))]);
    }

    /// <summary>The record (JSON and its 0x1E separator) as a whole, unmasked WebSocket text frame.</summary>
    public ReadOnlyMemory<byte> WebSocketFrame { get; }

    /// <summary>The record for <see cref="HubConnectionContext.WriteAsync(SerializedHubMessage, CancellationToken)"/>.</summary>
    public SerializedHubMessage Message { get; }
}
