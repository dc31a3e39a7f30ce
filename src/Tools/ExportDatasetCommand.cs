using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using SignalStream.Contracts;
using SignalStream.Engine.Features;
using SignalStream.Ingest.Replay;
using SignalStream.Ingest.Simulated;

namespace SignalStream.Tools;

/// <summary>
/// <c>export-dataset</c>: runs candles (simulated, or recorded with <c>--input</c>) through the engine's own feature
/// code and writes the labelled training set, so the models learn exactly the features the server computes.
/// </summary>
internal static class ExportDatasetCommand
{
    private const string Usage = """
        Usage: dotnet run --project src/Tools -- export-dataset [options]

          --source simulated|replay   where candles come from (default simulated; --input implies replay)
          --input PATH                recorded candles: a .jsonl/.ndjson file, a Binance kline .csv
                                      (BTCUSDT-1m-2024-01.csv) or a directory of them
          --symbol SYMBOL             symbol of --input CSV files whose name does not carry it
          --timeframe TF              interval of --input CSV files whose name does not carry it
          --symbols A,B,...           simulated symbols (default BTCUSDT,ETHUSDT,BNBUSDT,SOLUSDT,XRPUSDT)
          --timeframes 1m,5m,...      simulated timeframes (default 1m,5m,15m,1h)
          --candles N                 simulated closed candles per stream (default 20000)
          --seed N                    simulator seed (default 42)
          --horizon N                 label horizon in candles (default 12)
          --flat-band X               flat band as a multiple of vol_48 * sqrt(horizon) (default 0.43)
          --out PATH                  dataset CSV (default models/data/dataset.csv); PATH.meta.json describes it
          --candles-out DIR           also write the raw candles, one Binance kline CSV per stream
        """;

    public static async Task<int> RunAsync(string[] args)
    {
        ArgumentNullException.ThrowIfNull(args);
        if (!TryParse(args, out var options, out var error))
        {
            await Console.Error.WriteLineAsync($"export-dataset: {error}\n\n{Usage}");
            return 2;
        }

        if (options is null)
        {
            Console.WriteLine(Usage);
            return 0;
        }

        var watch = Stopwatch.StartNew();
        IReadOnlyList<Candle> candles;
        string description;
        if (options.Input is not null)
        {
            var read = CandleFile.Read(options.Input, options.Symbol, options.Timeframe);
            if (read.Errors.Count > 0)
            {
                foreach (var problem in read.Errors.Take(20))
                {
                    await Console.Error.WriteLineAsync(problem);
                }

                await Console.Error.WriteLineAsync($"export-dataset: {read.Errors.Count} problems in {options.Input}; fix them and run again.");
                return 1;
            }

            candles = read.Candles;
            description = $"replay of {Path.GetFileName(Path.TrimEndingDirectorySeparator(options.Input))}";
        }
        else
        {
            candles = [.. MarketSimulator.GenerateClosed(options.Symbols, options.Timeframes, options.Candles, options.Seed)];
            description = string.Create(CultureInfo.InvariantCulture,
                $"simulated (seed {options.Seed}): {string.Join(",", options.Symbols)} x {string.Join(",", options.Timeframes.Select(t => t.ToName()))}, {options.Candles} candles per stream");
        }

        Console.WriteLine($"export-dataset: {candles.Count} candles ({description}) in {watch.Elapsed.TotalSeconds:F1} s");
        if (candles.Count == 0)
        {
            await Console.Error.WriteLineAsync("export-dataset: no candles to export.");
            return 1;
        }

        if (options.CandlesOut is not null)
        {
            Directory.CreateDirectory(options.CandlesOut);
            foreach (var stream in candles.GroupBy(c => c.Stream))
            {
                var file = Path.Combine(options.CandlesOut, $"{stream.Key.Symbol}-{stream.Key.Timeframe.ToName()}-export.csv");
                await using var candleWriter = new StreamWriter(file, false, new UTF8Encoding(false));
                CandleFile.WriteBinanceCsv(candleWriter, stream);
            }

            Console.WriteLine($"export-dataset: raw candles written to {options.CandlesOut}");
        }

        var outDirectory = Path.GetDirectoryName(Path.GetFullPath(options.Out));
        if (outDirectory is not null)
        {
            Directory.CreateDirectory(outDirectory);
        }

        FeatureDatasetSummary summary;
        await using (var writer = new StreamWriter(options.Out, false, new UTF8Encoding(false), 1 << 16))
        {
            summary = FeatureDataset.Write(candles, options.Horizon, options.FlatBand, writer);
        }

        await WriteMetaAsync(options, description, summary);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"export-dataset: {summary.Rows} rows from {summary.Streams} streams (down {summary.Down}, flat {summary.Flat}, up {summary.Up}) → {options.Out} in {watch.Elapsed.TotalSeconds:F1} s"));
        return summary.Rows > 0 ? 0 : 1;
    }

    private static async Task WriteMetaAsync(ExportOptions options, string description, FeatureDatasetSummary summary)
    {
        await using var stream = File.Create(options.Out + ".meta.json");
        await using var json = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true });
        json.WriteStartObject();
        json.WriteString("data", description);
        json.WriteString("source", options.Input is null ? "simulated" : "replay");
        json.WriteNumber("seed", options.Seed);
        json.WriteNumber("horizon", options.Horizon);
        json.WriteNumber("flatBand", options.FlatBand);
        json.WriteNumber("rows", summary.Rows);
        json.WriteNumber("streams", summary.Streams);
        json.WriteStartArray("timeframes");
        foreach (var tf in options.Input is null ? options.Timeframes : [])
        {
            json.WriteStringValue(tf.ToName());
        }

        json.WriteEndArray();
        json.WriteStartArray("features");
        foreach (var name in FeatureCatalog.Names)
        {
            json.WriteStringValue(name);
        }

        json.WriteEndArray();
        json.WriteString("exportedAt", DateTimeOffset.UtcNow.ToString("O", CultureInfo.InvariantCulture));
        json.WriteEndObject();
    }

    private sealed class ExportOptions
    {
        public string? Input;
        public string? Symbol;
        public Timeframe? Timeframe;
        public IReadOnlyList<string> Symbols = ["BTCUSDT", "ETHUSDT", "BNBUSDT", "SOLUSDT", "XRPUSDT"];
        public IReadOnlyList<Timeframe> Timeframes = [Contracts.Timeframe.OneMinute, Contracts.Timeframe.FiveMinutes, Contracts.Timeframe.FifteenMinutes, Contracts.Timeframe.OneHour];
        public int Candles = 20_000;
        public long Seed = 42;
        public int Horizon = 12;
        public double FlatBand = FeatureDataset.DefaultFlatBand;
        public string Out = Path.Combine("models", "data", "dataset.csv");
        public string? CandlesOut;
    }

    // Returns false with an error for bad usage; true with null options for --help.
    private static bool TryParse(string[] args, out ExportOptions? options, out string error)
    {
        var parsed = new ExportOptions();
        options = parsed;
        error = "";
        string? source = null;
        var inv = CultureInfo.InvariantCulture;
        for (var i = 0; i < args.Length; i++)
        {
            var name = args[i];
            if (name is "--help" or "-h")
            {
                options = null;
                return true;
            }

            if (!name.StartsWith("--", StringComparison.Ordinal) || i + 1 >= args.Length)
            {
                error = name.StartsWith("--", StringComparison.Ordinal) ? $"{name} needs a value." : $"unexpected argument '{name}'.";
                return false;
            }

            var value = args[++i];
            switch (name)
            {
                case "--source":
                    source = value;
                    break;
                case "--input":
                    parsed.Input = value;
                    break;
                case "--symbol":
                    parsed.Symbol = value.ToUpperInvariant();
                    break;
                case "--timeframe":
                    if (!Timeframes.TryParse(value.AsSpan(), out var tf))
                    {
                        error = $"--timeframe '{value}' is not a Binance interval name (1m, 5m, 15m, 1h, …).";
                        return false;
                    }

                    parsed.Timeframe = tf;
                    break;
                case "--symbols":
                    parsed.Symbols = [.. value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(s => s.ToUpperInvariant()).Distinct()];
                    var bad = parsed.Symbols.FirstOrDefault(s => s.Length is < 2 or > 20 || !s.All(char.IsAsciiLetterOrDigit));
                    if (parsed.Symbols.Count == 0 || bad is not null)
                    {
                        error = $"--symbols: '{bad ?? value}' is not a list of symbols (2-20 ASCII letters or digits, comma-separated).";
                        return false;
                    }

                    break;
                case "--timeframes":
                    try
                    {
                        parsed.Timeframes = Timeframes.ParseList(value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries), "--timeframes");
                    }
                    catch (FormatException ex)
                    {
                        error = ex.Message;
                        return false;
                    }

                    if (parsed.Timeframes.Count == 0)
                    {
                        error = "--timeframes is empty.";
                        return false;
                    }

                    break;
                case "--candles":
                    if (!int.TryParse(value, NumberStyles.None, inv, out parsed.Candles) || parsed.Candles is < 1 or > 10_000_000)
                    {
                        error = $"--candles '{value}' must be a whole number from 1 to 10000000.";
                        return false;
                    }

                    break;
                case "--seed":
                    if (!long.TryParse(value, NumberStyles.AllowLeadingSign, inv, out parsed.Seed))
                    {
                        error = $"--seed '{value}' must be a whole number.";
                        return false;
                    }

                    break;
                case "--horizon":
                    if (!int.TryParse(value, NumberStyles.None, inv, out parsed.Horizon) || parsed.Horizon is < 1 or > 1000)
                    {
                        error = $"--horizon '{value}' must be a whole number of candles from 1 to 1000.";
                        return false;
                    }

                    break;
                case "--flat-band":
                    if (!double.TryParse(value, NumberStyles.Float, inv, out parsed.FlatBand) || !(parsed.FlatBand > 0 && parsed.FlatBand < 10))
                    {
                        error = $"--flat-band '{value}' must be a number above 0 and below 10.";
                        return false;
                    }

                    break;
                case "--out":
                    parsed.Out = value;
                    break;
                case "--candles-out":
                    parsed.CandlesOut = value;
                    break;
                default:
                    error = $"unknown option '{name}'.";
                    return false;
            }
        }

        switch (source)
        {
            case null or "simulated" when parsed.Input is null:
                return true;
            case "simulated":
                error = "--input reads recorded candles; drop it or use --source replay.";
                return false;
            case null or "replay" when parsed.Input is not null:
                if (!File.Exists(parsed.Input) && !Directory.Exists(parsed.Input))
                {
                    error = $"--input '{parsed.Input}' does not exist.";
                    return false;
                }

                return true;
            case "replay":
                error = "--source replay needs --input PATH (a .jsonl file, a Binance kline .csv or a directory of them).";
                return false;
            default:
                error = $"--source '{source}' is not 'simulated' or 'replay'.";
                return false;
        }
    }
}
