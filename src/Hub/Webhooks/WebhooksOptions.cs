using System.Text.RegularExpressions;
using SignalStream.Contracts;

namespace SignalStream.Hub.Webhooks;

/// <summary>The <c>Webhooks</c> section: TradingView sources under <c>Webhooks:TradingView:{source}</c> and the shared bounds.</summary>
public sealed partial class WebhooksOptions
{
    public const string SectionName = "Webhooks";

    /// <summary>Largest request body accepted, in bytes; a larger one is refused with 413 before it is parsed.</summary>
    public int MaxBodyBytes { get; set; } = 16 * 1024;

    /// <summary>
    /// Failed authentications (unknown source or wrong secret) one client address may run up at once before its requests
    /// are refused with 429 unread (0: no limit).
    /// </summary>
    public int AuthFailureBurst { get; set; } = 20;

    /// <summary>Failed authentications per minute given back to an address (its bucket's refill).</summary>
    public int AuthFailuresPerMinute { get; set; } = 10;

    /// <summary>The TradingView sources, by name (the <c>{source}</c> of the URL). None: the endpoint answers 401 to everything.</summary>
    public Dictionary<string, TradingViewSourceOptions> TradingView { get; set; } = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>
    /// A source's <c>Symbols</c> may also be one comma-separated value (<c>--Webhooks:TradingView:main:Symbols=BTCUSDT,ETHUSDT</c>),
    /// which the binder would otherwise leave as an empty list, that is every symbol: the opposite of what was meant.
    /// </summary>
    internal void ApplyCommaSeparated(IConfigurationSection section)
    {
        foreach (var (name, source) in TradingView)
        {
            var value = section.GetSection(nameof(TradingView)).GetSection(name)[nameof(TradingViewSourceOptions.Symbols)];
            if (!string.IsNullOrWhiteSpace(value))
            {
                source.Symbols = [.. value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)];
            }
        }
    }

    /// <summary>Problems a person can fix, one message each; empty when valid.</summary>
    public IEnumerable<string> Validate()
    {
        if (MaxBodyBytes is < 1024 or > 1024 * 1024)
        {
            yield return $"Webhooks:MaxBodyBytes is {MaxBodyBytes}; use 1024 to 1048576 (default 16384; TradingView's alert messages are a few hundred bytes).";
        }

        if (AuthFailureBurst is < 0 or > 100_000)
        {
            yield return $"Webhooks:AuthFailureBurst is {AuthFailureBurst}; use 0 (no limit) to 100000 failed authentications one address may run up at once (default 20).";
        }

        if (AuthFailuresPerMinute is < 1 or > 60_000)
        {
            yield return $"Webhooks:AuthFailuresPerMinute is {AuthFailuresPerMinute}; use 1 to 60000 failed authentications per minute per address (default 10).";
        }

        foreach (var (name, source) in TradingView)
        {
            if (!SourceNamePattern().IsMatch(name))
            {
                yield return $"Webhooks:TradingView:{name}: a source name is 1–32 letters, digits, '-' or '_', starting with a letter or digit (it is the last segment of the webhook URL).";
                continue;
            }

            foreach (var problem in source.Validate($"Webhooks:TradingView:{name}"))
            {
                yield return problem;
            }
        }
    }

    [GeneratedRegex("^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$")]
    private static partial Regex SourceNamePattern();
}

/// <summary>One TradingView source (<c>Webhooks:TradingView:{source}</c>); docs/signals.md explains every key.</summary>
public sealed class TradingViewSourceOptions
{
    /// <summary>Shortest secret accepted at start: it is the only credential (TradingView cannot send headers).</summary>
    public const int MinSecretLength = 16;

    /// <summary>The shared secret the alert's JSON carries as <c>"secret"</c>; at least 16 characters.</summary>
    public string Secret { get; set; } = "";

    /// <summary><c>signal</c> (default): each alert is published as a signal. <c>vote</c>: it only votes in the ensemble.</summary>
    public string Mode { get; set; } = "signal";

    /// <summary>Symbols this source may send (empty: every symbol the node serves).</summary>
    public List<string> Symbols { get; set; } = [];

    /// <summary>Binance interval name used when an alert has no <c>interval</c> (empty: <c>interval</c> is required).</summary>
    public string? Timeframe { get; set; }

    /// <summary>0–100: the signal's confidence, P(direction) of the vote, and <c>c</c> in the ATR levels.</summary>
    public double Confidence { get; set; } = 70;

    /// <summary>Vote mode: the vote's ensemble weight, in the units of the model manifests' weights (lstm 0.6, patchtst 0.4).</summary>
    public double Weight { get; set; } = 0.25;

    /// <summary><c>fixed</c> (default): always <see cref="Weight"/>. <c>learned</c>: <see cref="Weight"/> × the source's profit factor.</summary>
    public string WeightMode { get; set; } = "fixed";

    /// <summary>Learned weights: resolved alerts the source needs first (until then: <see cref="Weight"/>).</summary>
    public int LearnAfter { get; set; } = 20;

    /// <summary>Learned weights: the lowest factor applied to <see cref="Weight"/>.</summary>
    public double MinWeightFactor { get; set; } = 0.25;

    /// <summary>Learned weights: the highest factor applied to <see cref="Weight"/>.</summary>
    public double MaxWeightFactor { get; set; } = 2;

    /// <summary>Vote mode: how long (market time) a vote counts after it arrived.</summary>
    public TimeSpan VoteExpiry { get; set; } = TimeSpan.FromHours(1);

    /// <summary>Largest |price − last close| / last close accepted (0.1: 10 %).</summary>
    public double MaxPriceDeviation { get; set; } = 0.1;

    /// <summary>Sustained alerts per minute this source may send; past it (and <see cref="Burst"/>) it gets 429.</summary>
    public double AlertsPerMinute { get; set; } = 60;

    /// <summary>Alerts the source may send at once before the per-minute rate applies.</summary>
    public int Burst { get; set; } = 10;

    /// <summary>How long an accepted alert is remembered, so a retry of it is answered without being taken twice.</summary>
    public TimeSpan DedupeWindow { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>Most alerts remembered for duplicates; the oldest is forgotten first.</summary>
    public int DedupeCapacity { get; set; } = 4096;

    /// <summary>
    /// Oldest alert accepted, by its <c>timenow</c> (TradingView's fire time), and how far ahead of the node's clock one may
    /// be; <c>00:00:00</c>: not checked. An alert without <c>timenow</c> is not checked.
    /// </summary>
    public TimeSpan MaxAlertAge { get; set; } = TimeSpan.FromMinutes(5);

    public bool IsVote => string.Equals(Mode, "vote", StringComparison.OrdinalIgnoreCase);

    public bool LearnsWeight => string.Equals(WeightMode, "learned", StringComparison.OrdinalIgnoreCase);

    internal IEnumerable<string> Validate(string key)
    {
        if (string.IsNullOrEmpty(Secret) || Secret.Length < MinSecretLength || Secret.Length > 256)
        {
            yield return $"{key}:Secret must be {MinSecretLength} to 256 characters (it is {Secret?.Length ?? 0}); generate one, for example with `openssl rand -hex 24`, and put it in the alert's JSON as \"secret\".";
        }

        if (!IsVote && !string.Equals(Mode, "signal", StringComparison.OrdinalIgnoreCase))
        {
            yield return $"{key}:Mode is '{Mode}'; use 'signal' (each alert is published as a signal) or 'vote' (it only votes in the ensemble).";
        }

        foreach (var symbol in Symbols)
        {
            if (string.IsNullOrWhiteSpace(symbol))
            {
                yield return $"{key}:Symbols has an empty entry; list symbols such as BTCUSDT, or leave it empty for every served symbol.";
            }
        }

        if (!string.IsNullOrEmpty(Timeframe) && !Timeframes.TryParse(Timeframe.AsSpan(), out _))
        {
            yield return $"{key}:Timeframe '{Timeframe}' is not a Binance interval name (valid, case-sensitive: {string.Join(", ", Timeframes.Names)}).";
        }

        if (!(Confidence is > 0 and <= 100))
        {
            yield return $"{key}:Confidence is {Confidence}; use a value above 0 and at most 100 (default 70).";
        }

        if (!(Weight >= 0) || double.IsInfinity(Weight) || Weight > 100)
        {
            yield return $"{key}:Weight is {Weight}; use a finite weight from 0 to 100 (default 0.25; the bundled models weigh 0.6 and 0.4).";
        }

        if (!LearnsWeight && !string.Equals(WeightMode, "fixed", StringComparison.OrdinalIgnoreCase))
        {
            yield return $"{key}:WeightMode is '{WeightMode}'; use 'fixed' or 'learned'.";
        }

        if (LearnAfter is < 1 or > 100_000)
        {
            yield return $"{key}:LearnAfter is {LearnAfter}; use 1 to 100000 (default 20).";
        }

        if (!(MinWeightFactor >= 0) || !(MaxWeightFactor >= MinWeightFactor) || double.IsInfinity(MaxWeightFactor) || MaxWeightFactor > 100)
        {
            yield return $"{key}:MinWeightFactor ({MinWeightFactor}) and MaxWeightFactor ({MaxWeightFactor}) must satisfy 0 <= min <= max <= 100 (defaults 0.25 and 2).";
        }

        if (VoteExpiry < TimeSpan.FromSeconds(1) || VoteExpiry > TimeSpan.FromDays(30))
        {
            yield return $"{key}:VoteExpiry is {VoteExpiry}; use 00:00:01 to 30.00:00:00 (default 01:00:00).";
        }

        if (!(MaxPriceDeviation is > 0 and <= 1))
        {
            yield return $"{key}:MaxPriceDeviation is {MaxPriceDeviation}; use a fraction above 0 and at most 1 (default 0.1 = 10 %).";
        }

        if (!(AlertsPerMinute is >= 0.01 and <= 60_000))
        {
            yield return $"{key}:AlertsPerMinute is {AlertsPerMinute}; use 0.01 to 60000 (default 60).";
        }

        if (Burst is < 1 or > 10_000)
        {
            yield return $"{key}:Burst is {Burst}; use 1 to 10000 (default 10).";
        }

        if (DedupeWindow < TimeSpan.Zero || DedupeWindow > TimeSpan.FromDays(1))
        {
            yield return $"{key}:DedupeWindow is {DedupeWindow}; use 00:00:00 (off) to 1.00:00:00 (default 00:10:00).";
        }

        if (DedupeCapacity is < 1 or > 1_000_000)
        {
            yield return $"{key}:DedupeCapacity is {DedupeCapacity}; use 1 to 1000000 (default 4096).";
        }

        if (MaxAlertAge < TimeSpan.Zero || MaxAlertAge > TimeSpan.FromDays(1))
        {
            yield return $"{key}:MaxAlertAge is {MaxAlertAge}; use 00:00:00 (not checked) to 1.00:00:00 (default 00:05:00).";
        }
    }
}
