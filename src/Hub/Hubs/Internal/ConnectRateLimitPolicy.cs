using System.Threading.RateLimiting;
using Microsoft.AspNetCore.RateLimiting;
using Microsoft.Extensions.Options;
using SignalStream.Hub.Auth;

namespace SignalStream.Hub.Hubs.Internal;

/// <summary>
/// The connect limit (<c>Hub:ConnectsPerSecond</c>, <c>Hub:ConnectBurst</c>): one token bucket per client
/// (<see cref="ClientKeys.Of(HttpContext)"/>) on the hub's connect requests, WebSocket upgrades and Server-Sent Events
/// streams, through ASP.NET Core's rate limiting middleware like the negotiate limit. Over it: 429 problem+json with
/// <c>Retry-After</c>, naming the keys.
/// </summary>
/// <remarks>
/// Every limit on a connection is its own (a fresh invocation budget, a fresh outbound bound), so a client that is cut or
/// closed and reconnects at once starts over; the caps bound how many connections it holds, not how often it makes new
/// ones. Long polling's polls and sends use the same endpoint and are not counted: its connections begin with a
/// negotiate, which has its own limit.
/// </remarks>
internal sealed class ConnectRateLimitPolicy : IRateLimiterPolicy<string>
{
    public const string Name = "signalstream-connect";

    private readonly SignalHubOptions _options;
    private readonly HubMetrics _metrics;

    public ConnectRateLimitPolicy(IOptions<SignalHubOptions> options, HubMetrics metrics)
    {
        _options = options.Value;
        _metrics = metrics;
        OnRejected = RejectAsync;
    }

    public Func<OnRejectedContext, CancellationToken, ValueTask> OnRejected { get; }

    /// <summary>Puts the limit on the connect endpoint of a hub's endpoints (MapHub maps it at the hub's path itself).</summary>
    public static void ApplyToConnect(EndpointBuilder endpoint)
    {
        if (endpoint is RouteEndpointBuilder { RoutePattern.RawText: { } pattern } && !pattern.EndsWith("/negotiate", StringComparison.OrdinalIgnoreCase))
        {
            endpoint.Metadata.Add(new EnableRateLimitingAttribute(Name));
        }
    }

    public RateLimitPartition<string> GetPartition(HttpContext httpContext)
    {
        if (_options.ConnectsPerSecond == 0 || !AdmissionMiddleware.IsConnectRequest(httpContext))
        {
            return RateLimitPartition.GetNoLimiter("");
        }

        return ClientRateLimit.TokenBucket(httpContext, _options.ConnectBurst, _options.ConnectsPerSecond);
    }

    private async ValueTask RejectAsync(OnRejectedContext context, CancellationToken cancellationToken)
    {
        _metrics.ConnectRateLimited();
        await ClientRateLimit.RejectAsync(context, "Too many connect requests", seconds =>
            $"Too many connect requests: at most {_options.ConnectsPerSecond} per second (bursts of {_options.ConnectBurst}) per client (Hub:ConnectsPerSecond, Hub:ConnectBurst); reconnect with a backoff, or retry after {seconds} s.").ConfigureAwait(false);
    }
}
