using System.Security.Cryptography;
using System.Text;
using SignalStream.Contracts;
using SignalStream.Engine.Signals;

namespace SignalStream.Hub.Webhooks.Internal;

/// <summary>One configured TradingView source, resolved once at start: its secret's digest, its policy, its limiter and dedupe window.</summary>
internal sealed class WebhookSource
{
    public WebhookSource(string name, TradingViewSourceOptions options, TimeProvider time)
    {
        Name = name.ToLowerInvariant();
        Source = SignalSources.TradingView(Name);
        SecretDigest = Digest(options.Secret);
        Mode = options.IsVote ? AlertMode.Vote : AlertMode.Signal;
        Symbols = options.Symbols.Count == 0
            ? null
            : new HashSet<string>(options.Symbols.Select(s => s.Trim().ToUpperInvariant()), StringComparer.Ordinal);
        DefaultTimeframe = string.IsNullOrEmpty(options.Timeframe) ? null : Timeframes.Parse(options.Timeframe);
        Policy = new AlertPolicy(
            options.Confidence,
            options.Weight,
            options.LearnsWeight,
            options.LearnAfter,
            options.MinWeightFactor,
            options.MaxWeightFactor,
            options.VoteExpiry,
            options.MaxPriceDeviation);
        Limiter = new SourceRateLimiter(time, options.AlertsPerMinute, options.Burst);
        Dedupe = new DedupeWindow(time, options.DedupeWindow, options.DedupeCapacity);
        MaxAlertAge = options.MaxAlertAge;
    }

    /// <summary>The name in the URL, lower-case; also the metric label.</summary>
    public string Name { get; }

    /// <summary><c>tradingview:{name}</c>.</summary>
    public string Source { get; }

    public byte[] SecretDigest { get; }

    public AlertMode Mode { get; }

    /// <summary>The symbols it may send, or null for every served symbol.</summary>
    public HashSet<string>? Symbols { get; }

    public Timeframe? DefaultTimeframe { get; }

    public AlertPolicy Policy { get; }

    public SourceRateLimiter Limiter { get; }

    public DedupeWindow Dedupe { get; }

    /// <summary>Oldest (and furthest ahead) <c>timenow</c> accepted; zero: not checked.</summary>
    public TimeSpan MaxAlertAge { get; }

    /// <summary>
    /// SHA-256 of the secret's UTF-8 bytes. Both sides are compared as digests with
    /// <see cref="CryptographicOperations.FixedTimeEquals"/>: equal lengths always, so the time taken says nothing about
    /// the configured secret, not even its length.
    /// </summary>
    public static byte[] Digest(string? secret) => SHA256.HashData(Encoding.UTF8.GetBytes(secret ?? string.Empty));
}
