using System.Threading.RateLimiting;
using Microsoft.AspNetCore.RateLimiting;
using Microsoft.Extensions.Options;
using SignalStream.Hub.Auth;

namespace SignalStream.Hub.Hubs.Internal;

/// <summary>
/// The negotiate limit (<c>Hub:NegotiatesPerSecond</c>, <c>Hub:NegotiateBurst</c>): one token bucket per client
/// (<see cref="ClientKeys.Of"/>, the REST limiter's rule) on <c>POST /hubs/signals/negotiate</c> only, through ASP.NET
/// Core's rate limiting middleware. Over it: 429 problem+json with <c>Retry-After</c>, naming the keys.
/// </summary>
/// <remarks>
/// Each negotiate makes SignalR create a connection (its pipes and state, about 2.7 KB) that it keeps until the client
/// connects or, if it never does, until SignalR's scan drops it (its 15 s disconnect timeout). No cap counts those, so
/// one client looping on negotiate made the node hold 20,000 of them in 3 s. The bucket bounds what one client can hold
/// to <c>NegotiateBurst + NegotiatesPerSecond x 15 s</c>. The connects themselves stay unlimited here: a WebSocket or an
/// event stream is under the connection caps, and long polling's requests come every poll.
/// </remarks>
internal sealed class NegotiateRateLimitPolicy : IRateLimiterPolicy<string>
{
    public const string Name = "signalstream-negotiate";

    private readonly SignalHubOptions _options;
    private readonly HubMetrics _metrics;

    public NegotiateRateLimitPolicy(IOptions<SignalHubOptions> options, HubMetrics metrics)
    {
        _options = options.Value;
        _metrics = metrics;
        OnRejected = RejectAsync;
    }

    public Func<OnRejectedContext, CancellationToken, ValueTask> OnRejected { get; }

    /// <summary>Puts the limit on the negotiate endpoint of a hub's endpoints (MapHub maps it as <c>{path}/negotiate</c>).</summary>
    public static void ApplyToNegotiate(EndpointBuilder endpoint)
    {
        if (endpoint is RouteEndpointBuilder { RoutePattern.RawText: { } pattern } && pattern.EndsWith("/negotiate", StringComparison.OrdinalIgnoreCase))
        {
            endpoint.Metadata.Add(new EnableRateLimitingAttribute(Name));
        }
    }

    public RateLimitPartition<string> GetPartition(HttpContext httpContext)
    {
        if (_options.NegotiatesPerSecond == 0)
        {
            return RateLimitPartition.GetNoLimiter("");
        }

        return ClientRateLimit.TokenBucket(httpContext, _options.NegotiateBurst, _options.NegotiatesPerSecond);
    }

    private async ValueTask RejectAsync(OnRejectedContext context, CancellationToken cancellationToken)
    {
        _metrics.NegotiateRateLimited();
        await ClientRateLimit.RejectAsync(context, "Too many negotiate requests", seconds =>
            $"Too many negotiate requests: at most {_options.NegotiatesPerSecond} per second (bursts of {_options.NegotiateBurst}) per client (Hub:NegotiatesPerSecond, Hub:NegotiateBurst); connect with the negotiations you have, or retry after {seconds} s.").ConfigureAwait(false);
    }
}
