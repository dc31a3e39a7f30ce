using System.Net.Sockets;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.AspNetCore.Http.Features;
using SignalStream.Hub.Transport.Internal;

namespace SignalStream.Hub.Transport;

/// <summary>
/// Gives the WebSocket connections of one path a <see cref="SocketFrameOutput"/>: from the handshake on, the node writes
/// their sockets itself (<c>Hub:DirectSocketSends</c>, on by default).
/// </summary>
/// <remarks>
/// Applies to HTTP/1.1 upgrades on a plain TCP socket on Linux. TLS (the socket carries ciphertext), HTTP/2 WebSockets
/// (one socket carries many streams), the other SignalR transports and other systems keep SignalR's own send path, and
/// the fan-out serves both. When the request ends, what still waits for the socket (a close message behind a backlog)
/// gets <see cref="CloseDrainTimeout"/> to be sent and acknowledged by the client before Kestrel closes the connection:
/// closed earlier, with the client's pings unread, the socket would be reset and the kernel's backlog lost.
/// </remarks>
internal static class DirectSocketSends
{
    /// <summary>How long a finished connection's last bytes may take to leave: SignalR's own WebSocket close timeout.</summary>
    public static readonly TimeSpan CloseDrainTimeout = TimeSpan.FromSeconds(5);

    /// <param name="byteLimit">Bytes that may wait for one connection's socket (<c>Hub:OutboundQueueBytes</c>).</param>
    public static IApplicationBuilder UseDirectSocketSends(this IApplicationBuilder app, PathString path, TimeProvider time, long byteLimit) =>
        app.Use(async (http, next) =>
        {
            if (!http.Request.Path.StartsWithSegments(path) || Upgrade(http, time, byteLimit) is not { } upgrade)
            {
                await next(http).ConfigureAwait(false);
                return;
            }

            http.Features.Set<IHttpUpgradeFeature>(upgrade);
            try
            {
                await next(http).ConfigureAwait(false);
            }
            finally
            {
                if (upgrade.Output is { } output)
                {
                    await output.WhenDeliveredAsync(CloseDrainTimeout).ConfigureAwait(false);
                }
            }
        });

    private static DirectUpgradeFeature? Upgrade(HttpContext http, TimeProvider time, long byteLimit)
    {
        if (!NonBlockingSend.IsSupported
            || !HttpProtocol.IsHttp11(http.Request.Protocol)
            || http.Request.IsHttps
            || http.Features.Get<ITlsConnectionFeature>() is not null
            || http.Features.Get<IHttpUpgradeFeature>() is not { IsUpgradableRequest: true } kestrel
            || http.Features.Get<IConnectionSocketFeature>()?.Socket is not { ProtocolType: ProtocolType.Tcp } socket)
        {
            return null;
        }

        return new DirectUpgradeFeature(kestrel, socket, http.Features, time, byteLimit);
    }
}
