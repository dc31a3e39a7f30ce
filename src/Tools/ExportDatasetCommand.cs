using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using SignalStream.Contracts;
using SignalStream.Engine.Features;
using SignalStream.Ingest.Replay;
using SignalStream.Ingest.Simulated;
using SignalStream.Tools.Internal;

namespace SignalStream.Tools;

/// <summary>
/// <c>export-dataset</c>: runs candles (simulated, or recorded with <c>--input</c>) through the engine's own feature
/// code and writes the labelled training set, so the models learn exactly the features the server computes.
/// </summary>
internal static class ExportDatasetCommand
{
    private static readonly string[] DefaultSymbols = ["BTCUSDT", "ETHUSDT", "BNBUSDT", "SOLUSDT", "XRPUSDT"];
    private static readonly Timeframe[] DefaultTimeframes = [Timeframe.OneMinute, Timeframe.FiveMinutes, Timeframe.FifteenMinutes, Timeframe.OneHour];

    public static Command Create()
    {
        var inv = CultureInfo.InvariantCulture;
        var source = CheckedOption.OneOf(
            "--source", "Where candles come from (default simulated; --input implies replay).", null, ["simulated", "replay"], "is not 'simulated' or 'replay'");
        var input = new Option<string?>("--input")
        {
            HelpName = "PATH",
            Description = "Recorded candles: a .jsonl/.ndjson file, a Binance kline .csv (BTCUSDT-1m-2024-01.csv) or a directory of them.",
        };
        var symbol = new Option<string?>("--symbol")
        {
            HelpName = "SYMBOL",
            Description = "The symbol of --input CSV files whose name does not carry it.",
        };
        var timeframe = CheckedOption.Create<Timeframe?>(
            "--timeframe", "TF", "The interval of --input CSV files whose name does not carry it.", () => null,
            (string text, out Timeframe? value) => (value = Timeframes.TryParse(text.AsSpan(), out var tf) ? tf : null) is not null,
            "is not a Binance interval name (1m, 5m, 15m, 1h, ...)");
        var symbols = CheckedOption.Create<IReadOnlyList<string>>(
            "--symbols", "A,B,...", "Simulated symbols.", () => DefaultSymbols, CheckedOption.TryParseSymbols,
            "is not a list of symbols (2-20 ASCII letters or digits each, comma-separated)");
        var timeframes = CheckedOption.Create<IReadOnlyList<Timeframe>>(
            "--timeframes", "1m,5m,...", "Simulated timeframes.", () => DefaultTimeframes, TryParseTimeframes,
            "is not a list of Binance interval names (1m, 5m, 15m, 1h, ..., comma-separated)");
        var candles = CheckedOption.Create(
            "--candles", "N", "Simulated closed candles per stream.", () => 20_000,
            (string text, out int n) => int.TryParse(text, NumberStyles.None, inv, out n) && n is >= 1 and <= 10_000_000,
            "must be a whole number from 1 to 10000000");
        var seed = CheckedOption.Create(
            "--seed", "N", "The simulator's seed.", () => 42L,
            (string text, out long n) => long.TryParse(text, NumberStyles.AllowLeadingSign, inv, out n), "must be a whole number");
        var horizon = CheckedOption.Create(
            "--horizon", "N", "The label horizon in candles.", () => 12,
            (string text, out int n) => int.TryParse(text, NumberStyles.None, inv, out n) && n is >= 1 and <= 1000,
            "must be a whole number of candles from 1 to 1000");
        var flatBand = CheckedOption.Create(
            "--flat-band", "X", "The flat band as a multiple of vol_48 * sqrt(horizon).", () => FeatureDataset.DefaultFlatBand,
            (string text, out double x) => double.TryParse(text, NumberStyles.Float, inv, out x) && x is > 0 and < 10,
            "must be a number above 0 and below 10");
        var output = new Option<string>("--out")
        {
            HelpName = "PATH",
            Description = "The dataset CSV; PATH.meta.json describes it.",
            DefaultValueFactory = _ => Path.Combine("models", "data", "dataset.csv"),
        };
        var candlesOut = new Option<string?>("--candles-out")
        {
            HelpName = "DIR",
            Description = "Also write the raw candles there, one Binance kline CSV per stream.",
        };

        var command = new Command(
            "export-dataset",
            "Runs candles (simulated, or recorded with --input) through the engine's own feature code and writes the labelled training set, so the models learn exactly the features the server computes.")
        {
            source, input, symbol, timeframe, symbols, timeframes, candles, seed, horizon, flatBand, output, candlesOut,
        };
        command.Validators.Add(result =>
        {
            var path = result.GetValue(input);
            switch (result.GetValue(source)?.ToLowerInvariant())
            {
                case "simulated" when path is not null:
                    result.AddError("--input reads recorded candles; drop it or use --source replay.");
                    break;
                case "replay" when path is null:
                    result.AddError("--source replay needs --input PATH (a .jsonl file, a Binance kline .csv or a directory of them).");
                    break;
                case not "simulated" when path is not null && !File.Exists(path) && !Directory.Exists(path):
                    result.AddError($"--input '{path}' does not exist.");
                    break;
            }
        });
        command.SetAction((parsed, _) => RunAsync(
            new ExportOptions
            {
                Input = parsed.GetValue(input),
                Symbol = parsed.GetValue(symbol)?.ToUpperInvariant(),
                Timeframe = parsed.GetValue(timeframe),
                Symbols = parsed.GetValue(symbols)!,
                Timeframes = parsed.GetValue(timeframes)!,
                Candles = parsed.GetValue(candles),
                Seed = parsed.GetValue(seed),
                Horizon = parsed.GetValue(horizon),
                FlatBand = parsed.GetValue(flatBand),
                Out = parsed.GetValue(output)!,
                CandlesOut = parsed.GetValue(candlesOut),
            },
            parsed.InvocationConfiguration.Output,
            parsed.InvocationConfiguration.Error));
        return command;
    }

    private static async Task<int> RunAsync(ExportOptions options, TextWriter output, TextWriter error)
    {
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
                    await error.WriteLineAsync(problem);
                }

                await error.WriteLineAsync($"export-dataset: {read.Errors.Count} problems in {options.Input}; fix them and run again.");
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

        await output.WriteLineAsync($"export-dataset: {candles.Count} candles ({description}) in {watch.Elapsed.TotalSeconds:F1} s");
        if (candles.Count == 0)
        {
            await error.WriteLineAsync("export-dataset: no candles to export.");
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

            await output.WriteLineAsync($"export-dataset: raw candles written to {options.CandlesOut}");
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
        await output.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
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

    private static bool TryParseTimeframes(string text, out IReadOnlyList<Timeframe> timeframes)
    {
        try
        {
            timeframes = Timeframes.ParseList(text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries), "--timeframes");
            return timeframes.Count > 0;
        }
        catch (FormatException)
        {
            timeframes = [];
            return false;
        }
    }

    private sealed class ExportOptions
    {
        public required string? Input { get; init; }

        public required string? Symbol { get; init; }

        public required Timeframe? Timeframe { get; init; }

        public required IReadOnlyList<string> Symbols { get; init; }

        public required IReadOnlyList<Timeframe> Timeframes { get; init; }

        public required int Candles { get; init; }

        public required long Seed { get; init; }

        public required int Horizon { get; init; }

        public required double FlatBand { get; init; }

        public required string Out { get; init; }

        public required string? CandlesOut { get; init; }
    }
}
