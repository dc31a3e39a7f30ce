using System.Diagnostics.CodeAnalysis;
using System.Diagnostics.Metrics;
using System.Threading.RateLimiting;
using Microsoft.AspNetCore.RateLimiting;
using Microsoft.Extensions.Options;
using SignalStream.Hosting;
using SignalStream.Hub.Auth;
using SignalStream.Hub.Hubs;

namespace SignalStream.Hub.Api;

/// <summary>
/// The REST rate limit (docs/hub.md, "REST"): ASP.NET Core's rate limiting middleware, one token bucket per client on
/// the endpoints <see cref="RestApi"/> maps. Over the limit: 429 problem+json with <c>Retry-After</c>.
/// </summary>
internal static class ApiRateLimiting
{
    public const string PolicyName = "signalstream-api";

    public static IServiceCollection AddSignalStreamApi(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<ApiOptions>().Bind(configuration.GetSection(ApiOptions.SectionName)).ValidateOnStart(static o => o.Validate());
        services.AddRateLimiter(o =>
        {
            o.RejectionStatusCode = StatusCodes.Status429TooManyRequests;
            o.AddPolicy<string, ApiRateLimitPolicy>(PolicyName);
        });
        return services;
    }

    /// <summary>
    /// Runs after authentication, so an authenticated client is limited by its subject, and before authorization, so
    /// requests with missing or bad tokens are limited (by address) too.
    /// </summary>
    public static WebApplication UseSignalStreamApiRateLimiting(this WebApplication app)
    {
        app.UseRateLimiter();
        return app;
    }
}

/// <summary>
/// One token bucket per client (<see cref="ClientKeys.Of"/>: the access token's subject when the request carries a valid
/// one, else the client's address, IPv6 by its /64). Partitions that stay full are dropped by the middleware, so the
/// number of buckets follows the number of active clients.
/// </summary>
/// <remarks>
/// The address is the TCP peer's: behind a reverse proxy every request shares the proxy's bucket unless forwarded headers
/// are applied before this (docs/hub.md says so).
/// </remarks>
internal sealed class ApiRateLimitPolicy : IRateLimiterPolicy<string>
{
    private readonly ApiOptions.RateLimitSettings _settings;
    private readonly Counter<long> _rejected;

    [SuppressMessage("Reliability", "CA2000:Dispose objects before losing scope", Justification = "The IMeterFactory owns the meters it creates: one cached meter per name, disposed with the container.")]
    public ApiRateLimitPolicy(IOptions<ApiOptions> options, IMeterFactory meterFactory)
    {
        _settings = options.Value.RateLimit;
        _rejected = meterFactory.Create(HubMetrics.MeterName).CreateCounter<long>("signalstream_api_rate_limited_total",
            description: "REST requests refused with 429 by the per-client rate limit (Api:RateLimit).");
        OnRejected = RejectAsync;
    }

    public Func<OnRejectedContext, CancellationToken, ValueTask> OnRejected { get; }

    public RateLimitPartition<string> GetPartition(HttpContext httpContext)
    {
        if (!_settings.Enabled)
        {
            return RateLimitPartition.GetNoLimiter("");
        }

        return ClientRateLimit.TokenBucket(httpContext, _settings.Burst, _settings.PermitsPerSecond);
    }

    private async ValueTask RejectAsync(OnRejectedContext context, CancellationToken cancellationToken)
    {
        _rejected.Add(1);
        await ClientRateLimit.RejectAsync(context, "Too many requests", seconds =>
            $"Too many requests: at most {_settings.PermitsPerSecond} per second (bursts of {_settings.Burst}) per client; retry after {seconds} s.").ConfigureAwait(false);
    }
}
