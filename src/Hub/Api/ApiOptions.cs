namespace SignalStream.Hub.Api;

/// <summary>The <c>Api</c> configuration section: the REST surface's request rate limit, resolved once and validated at start.</summary>
public sealed class ApiOptions
{
    public const string SectionName = "Api";

    public RateLimitSettings RateLimit { get; set; } = new();

    /// <summary>The <c>Api:RateLimit</c> section: a token bucket per client (its token's subject, else its IP address).</summary>
    public sealed class RateLimitSettings
    {
        /// <summary>False turns the limit off (for example behind a gateway that limits already).</summary>
        public bool Enabled { get; set; } = true;

        /// <summary>Sustained requests per second one client may make (the bucket's refill).</summary>
        public int PermitsPerSecond { get; set; } = 20;

        /// <summary>Requests one client may make at once (the bucket's size).</summary>
        public int Burst { get; set; } = 40;
    }

    /// <summary>Problems a person can fix, one message each; empty when valid.</summary>
    public IEnumerable<string> Validate()
    {
        if (RateLimit.PermitsPerSecond is < 1 or > 100_000)
        {
            yield return $"Api:RateLimit:PermitsPerSecond is {RateLimit.PermitsPerSecond}; use 1 to 100000 requests per second per client (or Api:RateLimit:Enabled=false).";
        }

        if (RateLimit.Burst is < 1 or > 1_000_000)
        {
            yield return $"Api:RateLimit:Burst is {RateLimit.Burst}; use 1 to 1000000 requests (how many one client may make at once).";
        }
    }
}
