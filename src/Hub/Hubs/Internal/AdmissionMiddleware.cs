using System.Globalization;
using Microsoft.AspNetCore.Http.Features;
using SignalStream.Hub.Auth;

namespace SignalStream.Hub.Hubs.Internal;

/// <summary>
/// Admission at the hub's door, before SignalR: a connect request (WebSocket upgrade, Server-Sent Events) takes a slot
/// under the connection caps or is refused with a reason; negotiate is refused early when a connect would be; both are
/// refused while the client serves a reconnect penalty (<see cref="ReconnectPenalties"/>); every connect request gets the
/// <see cref="ConnectionGuard"/> its connection is then known by.
/// </summary>
internal static class AdmissionMiddleware
{
    public static IApplicationBuilder UseConnectionAdmission(this IApplicationBuilder app, PathString path, ConnectionRegistry registry) =>
        app.Use(async (http, next) =>
        {
            if (!http.Request.Path.StartsWithSegments(path, out var rest))
            {
                await next(http).ConfigureAwait(false);
                return;
            }

            if (registry.IsStopping)
            {
                await RefuseAsync(http, StatusCodes.Status503ServiceUnavailable, "The server is shutting down; connect to another node.").ConfigureAwait(false);
                return;
            }

            var admission = registry.Admission;
            var ip = ClientKeys.Unmapped(http.Connection.RemoteIpAddress); // as logged; the admission counts it by its client key
            var subject = Entitlements.SubjectOf(http.User);
            var negotiate = rest.Equals("/negotiate", StringComparison.OrdinalIgnoreCase);
            var holdsRequest = !negotiate && IsConnectRequest(http);
            if ((negotiate || holdsRequest) && registry.Penalties.Refuses(ClientKeys.Of(http), out var remaining))
            {
                await RefusePenalizedAsync(http, registry, remaining).ConfigureAwait(false);
                return;
            }

            if (negotiate)
            {
                if (admission.Check(ip, subject) is var early and not AdmissionRefusal.None)
                {
                    await RefuseAsync(http, admission, early).ConfigureAwait(false);
                    return;
                }

                await next(http).ConfigureAwait(false);
                return;
            }

            // A WebSocket or event stream holds its request for the connection's life: its slot is taken now, before the
            // upgrade, and its handshake must be done by the deadline. Long polling's requests come and go: its
            // connection is admitted at the handshake (ConnectionRegistry.Add), by this same guard.
            var guard = new ConnectionGuard(registry.NewBudget(), holdsRequest ? http : null, ip, subject);
            if (holdsRequest)
            {
                var refusal = admission.TryAdmit(ip, subject, out var slot);
                if (refusal != AdmissionRefusal.None)
                {
                    await RefuseAsync(http, admission, refusal).ConfigureAwait(false);
                    return;
                }

                guard.Slot = slot;
                guard.WatchHandshake(admission.WatchHandshake(guard));
            }

            ConnectionGuard.Current = guard;
            try
            {
                await next(http).ConfigureAwait(false);
            }
            finally
            {
                guard.StopWatchingHandshake();
                if (holdsRequest)
                {
                    guard.Slot?.Release();
                }
            }
        });

    /// <summary>A connect request that holds its request for the connection's life: a WebSocket upgrade or an event
    /// stream (long polling's requests come and go).</summary>
    public static bool IsConnectRequest(HttpContext http) => IsWebSocketUpgrade(http) || IsEventStream(http.Request);

    /// <summary>An HTTP/1.1 upgrade or HTTP/2 extended CONNECT to WebSocket. (<c>HttpContext.WebSockets</c> cannot tell
    /// yet: SignalR adds the WebSockets middleware inside its own endpoint.)</summary>
    private static bool IsWebSocketUpgrade(HttpContext http) =>
        (http.Features.Get<IHttpUpgradeFeature>()?.IsUpgradableRequest == true
            && http.Request.Headers.Upgrade.ToString().Contains("websocket", StringComparison.OrdinalIgnoreCase))
        || http.Features.Get<IHttpExtendedConnectFeature>()?.IsExtendedConnect == true;

    private static bool IsEventStream(HttpRequest request) =>
        HttpMethods.IsGet(request.Method) && request.Headers.Accept.ToString().Contains("text/event-stream", StringComparison.OrdinalIgnoreCase);

    private static Task RefuseAsync(HttpContext http, ConnectionAdmission admission, AdmissionRefusal refusal) =>
        RefuseAsync(http, refusal == AdmissionRefusal.Full ? StatusCodes.Status503ServiceUnavailable : StatusCodes.Status429TooManyRequests,
            admission.Describe(refusal));

    private static Task RefusePenalizedAsync(HttpContext http, ConnectionRegistry registry, TimeSpan remaining)
    {
        var seconds = Math.Max(1, (int)Math.Ceiling(remaining.TotalSeconds));
        http.Response.Headers.RetryAfter = seconds.ToString(CultureInfo.InvariantCulture);
        return Results.Problem(
            detail: $"A connection of yours was just closed for invocation flooding or cut off as a slow consumer: no new connection for {registry.Penalties.Penalty.TotalSeconds:0.###} s after that (Hub:ReconnectPenalty); retry after {seconds} s, then keep to the limits the close message named.",
            statusCode: StatusCodes.Status429TooManyRequests,
            title: "Reconnecting too soon",
            extensions: new Dictionary<string, object?> { ["retryAfterSeconds"] = seconds }).ExecuteAsync(http);
    }

    private static Task RefuseAsync(HttpContext http, int status, string detail)
    {
        http.Response.Headers.RetryAfter = "5";
        return Results.Problem(
            detail: detail,
            statusCode: status,
            title: status == StatusCodes.Status503ServiceUnavailable ? "No capacity" : "Too many connections").ExecuteAsync(http);
    }
}
