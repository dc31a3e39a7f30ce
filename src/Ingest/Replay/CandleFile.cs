using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using SignalStream.Contracts;
using SignalStream.Contracts.Serialization;

namespace SignalStream.Ingest.Replay;

/// <summary>What <see cref="CandleFile.Read"/> found: the valid candles, in close-time order, and every problem.</summary>
/// <param name="Candles">Valid closed candles sorted by close time (then symbol, timeframe): in order per stream.</param>
/// <param name="Errors">One message per problem, each naming the file, the line and what is wrong.</param>
public sealed record CandleFileReadResult(IReadOnlyList<Candle> Candles, IReadOnlyList<string> Errors);

/// <summary>
/// Reads and writes recorded closed candles: JSON lines of <see cref="Candle"/> (<c>.jsonl</c>, <c>.ndjson</c>) and
/// Binance kline CSV (<c>.csv</c>, the format of data.binance.vision's dumps).
/// </summary>
/// <remarks>
/// Binance CSV columns: open_time, open, high, low, close, volume, close_time, quote_volume, count, taker_buy_volume,
/// taker_buy_quote_volume, ignore. The dumps carry no symbol or interval: they come from the caller or from the
/// dump's file name (<c>BTCUSDT-1m-2024-01.csv</c>). Spot dumps from 2025 on stamp times in microseconds; those are
/// recognised by magnitude and converted to milliseconds. An optional header line is skipped.
/// </remarks>
public static partial class CandleFile
{
    private const long MicrosecondThreshold = 100_000_000_000_000; // 1e14: milliseconds reach it in the year 5138

    /// <summary>Reads one file, or every <c>.csv</c>, <c>.jsonl</c> and <c>.ndjson</c> file of a directory.</summary>
    /// <param name="path">A file or a directory.</param>
    /// <param name="symbol">The symbol of CSV files whose name does not say it.</param>
    /// <param name="timeframe">The interval of CSV files whose name does not say it.</param>
    public static CandleFileReadResult Read(string path, string? symbol = null, Timeframe? timeframe = null)
    {
        ArgumentNullException.ThrowIfNull(path);
        var candles = new List<(Candle Candle, string File, int Line)>();
        var errors = new List<string>();
        string[] files;
        if (Directory.Exists(path))
        {
            files = [.. Directory.EnumerateFiles(path)
                .Where(f => f.EndsWith(".csv", StringComparison.OrdinalIgnoreCase) || IsJsonLines(f))
                .Order(StringComparer.Ordinal)];
            if (files.Length == 0)
            {
                errors.Add($"{path}: the directory holds no .csv, .jsonl or .ndjson files.");
            }
        }
        else if (File.Exists(path))
        {
            files = [path];
        }
        else
        {
            errors.Add($"{path}: no such file or directory.");
            files = [];
        }

        foreach (var file in files)
        {
            if (IsJsonLines(file))
            {
                ReadJsonLines(file, candles, errors);
            }
            else
            {
                ReadBinanceCsv(file, symbol, timeframe, candles, errors);
            }
        }

        // Sort by close time (then stream) so that streams interleave as they would live, each in order.
        candles.Sort(static (a, b) =>
        {
            var byClose = a.Candle.CloseTime.CompareTo(b.Candle.CloseTime);
            if (byClose != 0)
            {
                return byClose;
            }

            var bySymbol = string.CompareOrdinal(a.Candle.Symbol, b.Candle.Symbol);
            return bySymbol != 0 ? bySymbol : a.Candle.Timeframe.CompareTo(b.Candle.Timeframe);
        });

        var result = new List<Candle>(candles.Count);
        var last = new Dictionary<StreamKey, (long OpenTime, string File, int Line)>();
        foreach (var (candle, file, line) in candles)
        {
            if (last.TryGetValue(candle.Stream, out var previous) && previous.OpenTime == candle.OpenTime)
            {
                errors.Add($"{file}:{line}: duplicate candle for {candle.Stream} opening at {candle.OpenTime} (first at {previous.File}:{previous.Line}).");
                continue;
            }

            last[candle.Stream] = (candle.OpenTime, file, line);
            result.Add(candle);
        }

        return new CandleFileReadResult(result, errors);
    }

    /// <summary>Writes candles as Binance kline CSV (no header, like Binance's dumps), times in milliseconds.</summary>
    public static void WriteBinanceCsv(TextWriter writer, IEnumerable<Candle> candles)
    {
        ArgumentNullException.ThrowIfNull(writer);
        ArgumentNullException.ThrowIfNull(candles);
        var inv = CultureInfo.InvariantCulture;
        foreach (var c in candles)
        {
            writer.Write(string.Create(inv,
                $"{c.OpenTime},{c.Open},{c.High},{c.Low},{c.Close},{c.Volume},{c.CloseTime},{c.QuoteVolume},{c.TradeCount},{c.TakerBuyBaseVolume},{c.TakerBuyQuoteVolume},0\n"));
        }
    }

    /// <summary>Writes candles as JSON lines of <see cref="Candle"/> (camelCase, the contract's serialization).</summary>
    public static void WriteJsonLines(TextWriter writer, IEnumerable<Candle> candles)
    {
        ArgumentNullException.ThrowIfNull(writer);
        ArgumentNullException.ThrowIfNull(candles);
        foreach (var c in candles)
        {
            writer.Write(JsonSerializer.Serialize(c, ContractsJsonContext.Default.Candle));
            writer.Write('\n');
        }
    }

    /// <summary>The symbol and interval in a Binance dump's file name, for example <c>BTCUSDT-1m-2024-01.csv</c>.</summary>
    public static bool TryParseDumpFileName(string path, out string symbol, out Timeframe timeframe)
    {
        var match = DumpFileName().Match(Path.GetFileName(path));
        if (match.Success && Timeframes.TryParse(match.Groups[2].ValueSpan, out timeframe))
        {
            symbol = match.Groups[1].Value;
            return true;
        }

        symbol = "";
        timeframe = default;
        return false;
    }

    [GeneratedRegex(@"^([A-Z0-9]{2,20})-([0-9]+[smhdwM])(?:-.*)?\.csv$")]
    private static partial Regex DumpFileName();

    private static bool IsJsonLines(string file) =>
        file.EndsWith(".jsonl", StringComparison.OrdinalIgnoreCase) || file.EndsWith(".ndjson", StringComparison.OrdinalIgnoreCase);

    private static void ReadJsonLines(string file, List<(Candle, string, int)> candles, List<string> errors)
    {
        var lineNumber = 0;
        foreach (var line in File.ReadLines(file, Encoding.UTF8))
        {
            lineNumber++;
            if (string.IsNullOrWhiteSpace(line))
            {
                continue;
            }

            Candle candle;
            try
            {
                candle = JsonSerializer.Deserialize(line, ContractsJsonContext.Default.Candle);
            }
            catch (JsonException ex)
            {
                errors.Add($"{file}:{lineNumber}: not a candle in JSON: {ex.Message}");
                continue;
            }

            if (string.IsNullOrEmpty(candle.Symbol))
            {
                errors.Add($"{file}:{lineNumber}: the candle has no symbol.");
                continue;
            }

            if (Check(candle) is { } problem)
            {
                errors.Add($"{file}:{lineNumber}: {problem}");
                continue;
            }

            candles.Add((candle, file, lineNumber));
        }
    }

    private static void ReadBinanceCsv(
        string file, string? symbolOption, Timeframe? timeframeOption, List<(Candle, string, int)> candles, List<string> errors)
    {
        string symbol;
        Timeframe timeframe;
        if (TryParseDumpFileName(file, out var nameSymbol, out var nameTimeframe))
        {
            symbol = symbolOption ?? nameSymbol;
            timeframe = timeframeOption ?? nameTimeframe;
        }
        else if (symbolOption is not null && timeframeOption is not null)
        {
            symbol = symbolOption;
            timeframe = timeframeOption.Value;
        }
        else
        {
            errors.Add($"{file}: a Binance CSV needs its symbol and interval: name the file like BTCUSDT-1m-2024-01.csv or set the symbol and timeframe options.");
            return;
        }

        var lineNumber = 0;
        Span<Range> fields = stackalloc Range[13];
        foreach (var line in File.ReadLines(file, Encoding.UTF8))
        {
            lineNumber++;
            var text = line.AsSpan().Trim();
            if (text.IsEmpty)
            {
                continue;
            }

            if (lineNumber == 1 && !char.IsAsciiDigit(text[0]))
            {
                continue; // a header line such as "open_time,open,high,..."
            }

            var count = text.Split(fields, ',');
            if (count != 12)
            {
                errors.Add($"{file}:{lineNumber}: expected 12 comma-separated fields (open_time … ignore), found {count}.");
                continue;
            }

            if (!TryTime(text[fields[0]], out var openTime) || !TryTime(text[fields[6]], out var closeTime))
            {
                errors.Add($"{file}:{lineNumber}: open_time and close_time must be Unix milliseconds or microseconds.");
                continue;
            }

            if (!TryDecimal(text[fields[1]], out var open) || !TryDecimal(text[fields[2]], out var high)
                || !TryDecimal(text[fields[3]], out var low) || !TryDecimal(text[fields[4]], out var close)
                || !TryDecimal(text[fields[5]], out var volume) || !TryDecimal(text[fields[7]], out var quoteVolume)
                || !long.TryParse(text[fields[8]], NumberStyles.None, CultureInfo.InvariantCulture, out var trades)
                || !TryDecimal(text[fields[9]], out var takerBase) || !TryDecimal(text[fields[10]], out var takerQuote))
            {
                errors.Add($"{file}:{lineNumber}: a price, volume or count is not a plain non-negative number.");
                continue;
            }

            var candle = new Candle(symbol, timeframe, openTime, closeTime, open, high, low, close, volume, quoteVolume, trades, takerBase, takerQuote);
            if (Check(candle) is { } problem)
            {
                errors.Add($"{file}:{lineNumber}: {problem}");
                continue;
            }

            candles.Add((candle, file, lineNumber));
        }
    }

    private static string? Check(in Candle c)
    {
        if (c.Symbol.Length is < 2 or > 20 || !c.Symbol.All(char.IsAsciiLetterOrDigit))
        {
            return $"'{c.Symbol}' is not a symbol (2-20 ASCII letters or digits).";
        }

        if (!c.Timeframe.IsAlignedOpenTime(c.OpenTime))
        {
            return $"open_time {c.OpenTime} is not aligned to {c.Timeframe.ToName()}.";
        }

        if (c.CloseTime != c.Timeframe.CloseTimeOf(c.OpenTime))
        {
            return $"close_time {c.CloseTime} should be {c.Timeframe.CloseTimeOf(c.OpenTime)} for a {c.Timeframe.ToName()} candle opening at {c.OpenTime}.";
        }

        if (c.Low <= 0 || c.Low > Math.Min(c.Open, c.Close) || c.High < Math.Max(c.Open, c.Close))
        {
            return $"prices are inconsistent (need 0 < low <= open, close <= high): open {c.Open}, high {c.High}, low {c.Low}, close {c.Close}.";
        }

        if (c.Volume < 0 || c.QuoteVolume < 0 || c.TradeCount < 0 || c.TakerBuyBaseVolume < 0 || c.TakerBuyQuoteVolume < 0)
        {
            return "volumes and the trade count cannot be negative.";
        }

        if (c.TakerBuyBaseVolume > c.Volume)
        {
            return $"taker_buy_volume {c.TakerBuyBaseVolume} exceeds volume {c.Volume}.";
        }

        return null;
    }

    private static bool TryTime(ReadOnlySpan<char> text, out long ms)
    {
        if (!long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out ms))
        {
            return false;
        }

        if (ms >= MicrosecondThreshold)
        {
            ms /= 1000;
        }

        return true;
    }

    private static bool TryDecimal(ReadOnlySpan<char> text, out decimal value) =>
        decimal.TryParse(text, NumberStyles.AllowDecimalPoint | NumberStyles.AllowExponent, CultureInfo.InvariantCulture, out value);
}
