using Microsoft.Extensions.Configuration;
using SignalStream.Contracts;

namespace SignalStream.Ingest;

/// <summary>The <c>Ingest</c> configuration section, resolved once and validated at start.</summary>
public sealed class IngestOptions
{
    public const string SectionName = "Ingest";

    /// <summary>Where candles come from: <c>binance</c> (default), <c>simulated</c> or <c>replay</c>.</summary>
    public IngestSource Source { get; set; } = IngestSource.Binance;

    public List<string> Symbols { get; set; } = [];

    public List<string> Timeframes { get; set; } = [];

    /// <summary>Closed candles that may queue between sources and the engine before sources are held back.</summary>
    public int ChannelCapacity { get; set; } = 65_536;

    /// <summary>Closed candles of history per stream loaded at start so features are warm.</summary>
    public int WarmupCandles { get; set; } = 300;

    /// <summary>
    /// After a restart, how many candles per stream past the newest stored one a source that can fetch them (Binance's
    /// REST history) delivers to be decided, not just warmed on: the candles closed while the node was down, and any in
    /// flight at a crash. Older ones (a longer outage) feed the features only, with a warning.
    /// </summary>
    public int ResumeBackfillCandles { get; set; } = 1000;

    /// <summary>
    /// <c>/health/ready</c> reports the node unhealthy when a live source (Binance, the simulator) has delivered no
    /// candle update for this long; 0 turns the check off. Binance pushes every stream's kline at least every ~2 s.
    /// </summary>
    public int StaleAfterSeconds { get; set; } = 60;

    /// <summary>
    /// Binds the section, also accepting comma-separated <c>Symbols</c> and <c>Timeframes</c>
    /// (<c>--Ingest:Symbols=BTCUSDT,ETHUSDT</c>): configuration merges arrays by index, so an indexed override could
    /// only ever replace entries, never shorten the list.
    /// </summary>
    public static IngestOptions Bind(IConfiguration configuration)
    {
        var section = configuration.GetSection(SectionName);
        var options = section.Get<IngestOptions>() ?? new IngestOptions();
        ApplyCommaSeparated(section, options);
        return options;
    }

    internal static void ApplyCommaSeparated(IConfigurationSection section, IngestOptions options)
    {
        if (SplitList(section[nameof(Symbols)]) is { } symbols)
        {
            options.Symbols = symbols;
        }

        if (SplitList(section[nameof(Timeframes)]) is { } timeframes)
        {
            options.Timeframes = timeframes;
        }
    }

    private static List<string>? SplitList(string? value) => string.IsNullOrWhiteSpace(value)
        ? null
        : [.. value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)];

    internal static readonly string[] DefaultSymbols = ["BTCUSDT", "ETHUSDT", "BNBUSDT", "SOLUSDT", "XRPUSDT"];
    internal static readonly string[] DefaultTimeframes = ["1m", "5m", "15m", "1h"];

    /// <summary>Upper-case symbols, defaulted and de-duplicated.</summary>
    public IReadOnlyList<string> ResolvedSymbols() =>
        (Symbols.Count == 0 ? DefaultSymbols : Symbols.Select(s => s.Trim().ToUpperInvariant()))
        .Distinct(StringComparer.Ordinal).ToArray();

    /// <summary>Parsed timeframes; throws a <see cref="FormatException"/> naming every bad entry.</summary>
    public IReadOnlyList<Timeframe> ResolvedTimeframes() =>
        Contracts.Timeframes.ParseList(Timeframes.Count == 0 ? DefaultTimeframes : Timeframes, "Ingest:Timeframes");

    /// <summary>Every (symbol, timeframe) stream.</summary>
    public IReadOnlyList<StreamKey> ResolvedStreams()
    {
        var timeframes = ResolvedTimeframes();
        return ResolvedSymbols().SelectMany(s => timeframes.Select(tf => new StreamKey(s, tf))).ToArray();
    }

    /// <summary>Problems a person can fix, one message each; empty when valid.</summary>
    public IEnumerable<string> Validate()
    {
        foreach (var symbol in ResolvedSymbols())
        {
            if (symbol.Length is < 2 or > 20 || !symbol.All(char.IsAsciiLetterOrDigit))
            {
                yield return $"Ingest:Symbols: '{symbol}' is not a symbol (2-20 ASCII letters or digits, for example BTCUSDT).";
            }
        }

        string? timeframeError = null;
        try
        {
            ResolvedTimeframes();
        }
        catch (FormatException ex)
        {
            timeframeError = ex.Message;
        }

        if (timeframeError is not null)
        {
            yield return timeframeError;
        }

        if (StaleAfterSeconds < 0)
        {
            yield return $"Ingest:StaleAfterSeconds is {StaleAfterSeconds}; use 0 (no freshness check) or more seconds.";
        }

        if (ChannelCapacity < 16)
        {
            yield return $"Ingest:ChannelCapacity is {ChannelCapacity}; it must be at least 16.";
        }

        if (WarmupCandles < 0)
        {
            yield return $"Ingest:WarmupCandles is {WarmupCandles}; it must be 0 or more.";
        }

        if (ResumeBackfillCandles is < 0 or > 100_000)
        {
            yield return $"Ingest:ResumeBackfillCandles is {ResumeBackfillCandles}; it must be 0 to 100000 (candles per stream decided after a restart).";
        }
    }
}
