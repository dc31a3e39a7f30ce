using System.Net.Sockets;
using Microsoft.AspNetCore.Http.Features;

namespace SignalStream.Hub.Transport.Internal;

/// <summary>
/// Kestrel's upgrade, then the connection's write side handed to a <see cref="SocketFrameOutput"/>: the WebSocket that
/// ASP.NET Core builds on the returned stream writes through it, and the output is published on the request's features
/// for the fan-out to find.
/// </summary>
/// <remarks>
/// Kestrel has flushed the 101 response into its own output when <c>UpgradeAsync</c> returns, but its socket loop may
/// not have sent it yet. Nothing is written past it before the client speaks: a WebSocket client sends nothing until it
/// has the 101 (RFC 6455 section 4.1), and the server's first frame (SignalR's handshake reply) answers the client's first
/// message, so by then the 101 has left.
/// </remarks>
internal sealed class DirectUpgradeFeature(IHttpUpgradeFeature kestrel, Socket socket, IFeatureCollection features, TimeProvider time, long byteLimit)
    : IHttpUpgradeFeature
{
    public bool IsUpgradableRequest => kestrel.IsUpgradableRequest;

    /// <summary>The connection's write side once upgraded; null before.</summary>
    public SocketFrameOutput? Output { get; private set; }

    public async Task<Stream> UpgradeAsync()
    {
        var received = await kestrel.UpgradeAsync().ConfigureAwait(false);
        Output = new SocketFrameOutput(socket, time, byteLimit);
        features.Set(Output);
        return new DirectSocketStream(received, Output);
    }
}
