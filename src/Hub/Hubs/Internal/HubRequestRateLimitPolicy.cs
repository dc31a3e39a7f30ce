using System.Threading.RateLimiting;
using Microsoft.AspNetCore.RateLimiting;
using SignalStream.Hub.Auth;

namespace SignalStream.Hub.Hubs.Internal;

/// <summary>
/// A per-client limit on the hub's own HTTP requests: one token bucket per client (<see cref="ClientKeys.Of(HttpContext)"/>,
/// the REST limiter's rule) through ASP.NET Core's rate limiting middleware. Over it: 429 problem+json with
/// <c>Retry-After</c>, naming the keys. Two of them, on the two endpoints <c>MapHub</c> maps:
/// <list type="bullet">
/// <item><see cref="Negotiate"/> (<c>Hub:NegotiatesPerSecond</c>, <c>Hub:NegotiateBurst</c>), on <c>{path}/negotiate</c>.
/// Each negotiate makes SignalR create a connection (its pipes and state, about 2.7 KB) that it keeps until the client
/// connects or, if it never does, until SignalR's scan drops it (its 15 s disconnect timeout). No cap counts those, so
/// one client looping on negotiate made the node hold 20,000 of them in 3 s. The bucket bounds what one client can hold
/// to <c>NegotiateBurst + NegotiatesPerSecond x 15 s</c>.</item>
/// <item><see cref="Connect"/> (<c>Hub:ConnectsPerSecond</c>, <c>Hub:ConnectBurst</c>), on the hub's path itself: its
/// connect requests, WebSocket upgrades and Server-Sent Events streams. Every limit on a connection is its own (a fresh
/// invocation budget, a fresh outbound bound), so a client that is cut or closed and reconnects at once starts over; the
/// caps bound how many connections it holds, not how often it makes new ones. Long polling's polls and sends use the same
/// endpoint and are not counted: its connections begin with a negotiate, which has its own limit.</item>
/// </list>
/// </summary>
internal sealed class HubRequestRateLimitPolicy : IRateLimiterPolicy<string>
{
    public const string NegotiateName = "signalstream-negotiate";
    public const string ConnectName = "signalstream-connect";

    private readonly Func<HttpContext, bool> _counts;
    private readonly int _perSecond;
    private readonly int _burst;
    private readonly Action _rejected;
    private readonly string _title;
    private readonly Func<int, string> _detail;

    private HubRequestRateLimitPolicy(Func<HttpContext, bool> counts, int perSecond, int burst, Action rejected, string title, Func<int, string> detail)
    {
        (_counts, _perSecond, _burst, _rejected, _title, _detail) = (counts, perSecond, burst, rejected, title, detail);
        OnRejected = RejectAsync;
    }

    public Func<OnRejectedContext, CancellationToken, ValueTask> OnRejected { get; }

    public static HubRequestRateLimitPolicy Negotiate(SignalHubOptions options, HubMetrics metrics) => new(
        static _ => true, options.NegotiatesPerSecond, options.NegotiateBurst, metrics.NegotiateRateLimited, "Too many negotiate requests",
        seconds => $"Too many negotiate requests: at most {options.NegotiatesPerSecond} per second (bursts of {options.NegotiateBurst}) per client " +
            $"(Hub:NegotiatesPerSecond, Hub:NegotiateBurst); connect with the negotiations you have, or retry after {seconds} s.");

    public static HubRequestRateLimitPolicy Connect(SignalHubOptions options, HubMetrics metrics) => new(
        AdmissionMiddleware.IsConnectRequest, options.ConnectsPerSecond, options.ConnectBurst, metrics.ConnectRateLimited, "Too many connect requests",
        seconds => $"Too many connect requests: at most {options.ConnectsPerSecond} per second (bursts of {options.ConnectBurst}) per client " +
            $"(Hub:ConnectsPerSecond, Hub:ConnectBurst); reconnect with a backoff, or retry after {seconds} s.");

    /// <summary>Puts the negotiate limit on a hub's <c>{path}/negotiate</c> endpoint and the connect limit on its path.</summary>
    public static void ApplyTo(EndpointBuilder endpoint)
    {
        if (endpoint is RouteEndpointBuilder { RoutePattern.RawText: { } pattern })
        {
            var negotiate = pattern.EndsWith("/negotiate", StringComparison.OrdinalIgnoreCase);
            endpoint.Metadata.Add(new EnableRateLimitingAttribute(negotiate ? NegotiateName : ConnectName));
        }
    }

    public RateLimitPartition<string> GetPartition(HttpContext httpContext) =>
        _perSecond == 0 || !_counts(httpContext)
            ? RateLimitPartition.GetNoLimiter("")
            : ClientRateLimit.TokenBucket(httpContext, _burst, _perSecond);

    private async ValueTask RejectAsync(OnRejectedContext context, CancellationToken cancellationToken)
    {
        _rejected();
        await ClientRateLimit.RejectAsync(context, _title, _detail).ConfigureAwait(false);
    }
}
