using System.Threading.RateLimiting;

namespace SignalStream.Hub.Webhooks.Internal;

/// <summary>
/// Failed authentications per client address (<c>Webhooks:AuthFailureBurst</c>, <c>Webhooks:AuthFailuresPerMinute</c>):
/// a token bucket of failures per address; while it is empty that address gets 429 before its body is read. Without it,
/// wrong secrets were answered 401 at any rate, each costing a body read, a JSON parse and a SHA-256, and secrets could be
/// guessed online without limit (the per-source limit applies only once the secret matched).
/// </summary>
/// <remarks>
/// ASP.NET Core's partitioned limiter drops the buckets of addresses that stop failing, so memory follows the number of
/// addresses failing now. A burst of 0 turns it off (behind a proxy without forwarded headers every caller has its
/// address).
/// </remarks>
internal sealed class AuthFailureLimiter : IDisposable
{
    private readonly PartitionedRateLimiter<string>? _failures;
    private readonly TimeSpan _perToken;

    public AuthFailureLimiter(int burst, int perMinute)
    {
        if (burst == 0)
        {
            return;
        }

        _perToken = TimeSpan.FromMinutes(1) / perMinute;
        var perToken = _perToken;
        _failures = PartitionedRateLimiter.Create<string, string>(client => RateLimitPartition.GetTokenBucketLimiter(client, _ => new TokenBucketRateLimiterOptions
        {
            TokenLimit = burst,
            TokensPerPeriod = 1,
            ReplenishmentPeriod = perToken,
            QueueLimit = 0,
            AutoReplenishment = true,
        }));
    }

    /// <summary>True while <paramref name="client"/> has no failure left; <paramref name="retryAfter"/> is when one comes back.</summary>
    public bool IsLockedOut(string client, out TimeSpan retryAfter)
    {
        retryAfter = _perToken;
        if (_failures is null)
        {
            return false;
        }

        using var lease = _failures.AttemptAcquire(client, permitCount: 0); // 0: is a token there, taking none
        return !lease.IsAcquired;
    }

    public void CountFailure(string client)
    {
        using var lease = _failures?.AttemptAcquire(client);
    }

    public void Dispose() => _failures?.Dispose();
}
