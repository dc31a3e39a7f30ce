using SignalStream.Contracts;

namespace SignalStream.Ingest.Replay;

/// <summary>The <c>Ingest:Replay</c> configuration section.</summary>
public sealed class ReplaySourceOptions
{
    public const string SectionName = "Ingest:Replay";

    /// <summary>A candle file (<c>.jsonl</c>, <c>.ndjson</c> or Binance <c>.csv</c>) or a directory of them.</summary>
    public string Path { get; set; } = "";

    /// <summary>Market-clock multiple of real time; 0 replays as fast as the engine takes candles.</summary>
    public double Speed { get; set; }

    /// <summary>The symbol of Binance CSV files whose name does not carry it.</summary>
    public string? Symbol { get; set; }

    /// <summary>The interval of Binance CSV files whose name does not carry it.</summary>
    public string? Timeframe { get; set; }

    /// <summary>Replay the valid candles of a file that also has invalid lines (default: refuse the whole replay).</summary>
    public bool SkipInvalid { get; set; }

    internal Timeframe? ResolvedTimeframe() =>
        string.IsNullOrEmpty(Timeframe) ? null : Contracts.Timeframes.Parse(Timeframe);

    /// <summary>Problems a person can fix, one message each; empty when valid.</summary>
    public IEnumerable<string> Validate()
    {
        if (string.IsNullOrWhiteSpace(Path))
        {
            yield return "Ingest:Replay:Path is empty; set it to a candle file (.jsonl, .ndjson or Binance kline .csv) or a directory of them.";
        }
        else if (!File.Exists(Path) && !Directory.Exists(Path))
        {
            yield return $"Ingest:Replay:Path '{Path}' does not exist (relative paths start at {Environment.CurrentDirectory}).";
        }

        if (!double.IsFinite(Speed) || Speed < 0 || Speed > 1_000_000)
        {
            yield return $"Ingest:Replay:Speed is {Speed}; use 0 (as fast as possible) or a multiple of real time up to 1000000.";
        }

        if (!string.IsNullOrEmpty(Timeframe) && !Contracts.Timeframes.TryParse(Timeframe.AsSpan(), out _))
        {
            yield return $"Ingest:Replay:Timeframe '{Timeframe}' is not a Binance interval name (for example 1m, 5m, 1h).";
        }

        if (Symbol is { Length: > 0 } symbol && (symbol.Length is < 2 or > 20 || !symbol.All(char.IsAsciiLetterOrDigit)))
        {
            yield return $"Ingest:Replay:Symbol '{symbol}' is not a symbol (2-20 ASCII letters or digits, for example BTCUSDT).";
        }
    }
}
