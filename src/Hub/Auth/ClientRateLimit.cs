using System.Globalization;
using System.Threading.RateLimiting;
using Microsoft.AspNetCore.RateLimiting;

namespace SignalStream.Hub.Auth;

/// <summary>
/// A per-client token bucket (<see cref="ClientKeys"/>) on ASP.NET Core's rate limiter, and the answer past it: one
/// implementation for the REST, negotiate and connect limits.
/// </summary>
internal static class ClientRateLimit
{
    /// <summary>The request's client's bucket: <paramref name="burst"/> at once, refilled by <paramref name="perSecond"/>.</summary>
    public static RateLimitPartition<string> TokenBucket(HttpContext http, int burst, int perSecond) =>
        RateLimitPartition.GetTokenBucketLimiter(ClientKeys.Of(http), _ => new TokenBucketRateLimiterOptions
        {
            TokenLimit = burst,
            TokensPerPeriod = perSecond,
            ReplenishmentPeriod = TimeSpan.FromSeconds(1),
            QueueLimit = 0,
            AutoReplenishment = true,
        });

    /// <summary>
    /// 429 problem+json with <c>Retry-After</c> and <c>retryAfterSeconds</c> (whole seconds, at least 1, from the
    /// limiter); <paramref name="detail"/> is given those seconds.
    /// </summary>
    public static Task RejectAsync(OnRejectedContext context, string title, Func<int, string> detail)
    {
        var seconds = context.Lease.TryGetMetadata(MetadataName.RetryAfter, out var retryAfter)
            ? Math.Max(1, (int)Math.Ceiling(retryAfter.TotalSeconds))
            : 1;
        var http = context.HttpContext;
        http.Response.Headers.RetryAfter = seconds.ToString(CultureInfo.InvariantCulture);
        return Results.Problem(
            detail: detail(seconds),
            statusCode: StatusCodes.Status429TooManyRequests,
            title: title,
            extensions: new Dictionary<string, object?> { ["retryAfterSeconds"] = seconds }).ExecuteAsync(http);
    }
}
