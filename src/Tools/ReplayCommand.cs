using System.Globalization;
using Microsoft.Extensions.Options;
using SignalStream.EventStore;
using SignalStream.Tools.Replay;
using SignalStream.Tools.Replay.Report;

namespace SignalStream.Tools;

/// <summary>
/// <c>replay</c>: runs the stored closed candles through the current engine (features → models → signal stage) into
/// a separate stream namespace, deterministically: the same stored candles and model versions give the same signals.
/// </summary>
internal static class ReplayCommand
{
    private const string Usage = """
        Usage: dotnet run --project src/Tools -- replay --into NAMESPACE [options]

          --into NAMESPACE        target stream namespace (required; new, e.g. replay-2026-05-01): results go to
                                  NAMESPACE/signals-SYMBOL, NAMESPACE/outcomes-SYMBOL, ... never into live streams
          --storage file|postgres the event store to read and write (default file)
          --path DIR              the file journal folder to read (default ./data); read-only, so its node may keep
                                  running (the replay sees what was committed when it started)
          --out DIR               the journal folder the replay writes (file; default DIR/replays)
          --postgres CONN         the PostgreSQL connection string (with --storage postgres; default
                                  ConnectionStrings:Postgres from the server's configuration)
          --symbols A,B,...       only these symbols (default all stored)
          --models DIR            the models folder (default the server's Models:Path, ./models)
          --set KEY=VALUE         a configuration override, repeatable (e.g. --set Signals:MinVoteScore=0.6);
                                  otherwise the server's configuration (appsettings.json, environment) applies
          --report DIR            write a backtest report there: report.md (figures per model, TradingView
                                  source, symbol and timeframe) and PNG charts (equity, drawdown, confidence,
                                  calibration); the same input gives the same report.md

        Exit codes: 0 done, 1 failed (store or models unusable, namespace taken), 2 usage error.
        """;

    public static async Task<int> RunAsync(string[] args)
    {
        ArgumentNullException.ThrowIfNull(args);
        if (args.Any(a => a is "--help" or "-h"))
        {
            Console.WriteLine(Usage);
            return 0;
        }

        if (!TryParse(args, out var options, out var error))
        {
            await Console.Error.WriteLineAsync($"replay: {error}\n\n{Usage}");
            return 2;
        }

        using var cancel = new CancellationTokenSource();
        Console.CancelKeyPress += (_, e) =>
        {
            // Ctrl+C stops reading; what the engine already emitted is still committed by the writer's drain.
            e.Cancel = true;
            cancel.Cancel();
        };

        try
        {
            var (result, failure) = await ReplayRunner.RunAsync(options, Console.Out, cancel.Token);
            if (result is null)
            {
                await Console.Error.WriteLineAsync($"replay: {failure}");
                return 1;
            }

            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"replay: done in {result.Elapsed.TotalSeconds:F1} s: {result.Candles} candles, {result.Signals} signals, {result.ShadowSignals} shadow signals, {result.Outcomes} outcomes → namespace '{options.Into}'"));
            if (result.Candles == 0)
            {
                await Console.Error.WriteLineAsync("replay: the store holds no closed candles (for these symbols); nothing to replay.");
            }

            if (result.Models == 0)
            {
                await Console.Error.WriteLineAsync("replay: no model was loaded, so no signals could be produced; check --models.");
                return 1;
            }

            if (options.Report is not null)
            {
                var files = BacktestReport.Write(options.Report, ReportInput(options, result));
                Console.WriteLine($"replay: report written: {string.Join(", ", files)}");
            }

            return 0;
        }
        catch (OptionsValidationException ex)
        {
            await Console.Error.WriteLineAsync($"replay: configuration is not valid: {string.Join(" ", ex.Failures)}");
            return 2;
        }
        catch (OperationCanceledException)
        {
            await Console.Error.WriteLineAsync("replay: cancelled; the namespace holds a partial replay.");
            return 1;
        }
        catch (Exception ex) when (ex is Npgsql.NpgsqlException or IOException or InvalidDataException or UnauthorizedAccessException)
        {
            await Console.Error.WriteLineAsync($"replay: the event store is not usable: {ex.Message}");
            return 1;
        }
    }

    /// <summary>What the report is made of: the replay's journal and what it replayed.</summary>
    internal static BacktestInput ReportInput(ReplayOptions options, ReplayResult result) => new(
        result.Performance ?? new Contracts.PerformanceReport(0, []),
        result.ModelInfos,
        options.Settings,
        result.Candles,
        result.Signals,
        result.ShadowSignals,
        result.Outcomes,
        result.FirstCandleClose,
        result.LastCandleClose);

    internal static bool TryParse(string[] args, out ReplayOptions options, out string? error)
    {
        options = null!;
        error = null;
        string storage = "file", into = string.Empty;
        string? path = null, postgres = null, models = null, output = null, report = null;
        var symbols = new HashSet<string>(StringComparer.Ordinal);
        var settings = new Dictionary<string, string?>(StringComparer.OrdinalIgnoreCase);
        for (var i = 0; i < args.Length; i++)
        {
            var name = args[i];
            if (i + 1 >= args.Length || args[i + 1].StartsWith("--", StringComparison.Ordinal))
            {
                error = name.StartsWith("--", StringComparison.Ordinal) ? $"{name} needs a value." : $"unexpected argument '{name}'.";
                return false;
            }

            var value = args[++i];
            switch (name)
            {
                case "--storage":
                    storage = value.ToLowerInvariant();
                    break;
                case "--path":
                    path = value;
                    break;
                case "--postgres":
                    postgres = value;
                    break;
                case "--out":
                    output = value;
                    break;
                case "--into":
                    into = value;
                    break;
                case "--models":
                    models = value;
                    break;
                case "--report":
                    report = value;
                    break;
                case "--symbols":
                    foreach (var symbol in value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
                    {
                        symbols.Add(symbol.ToUpperInvariant());
                    }

                    break;
                case "--set":
                    var equals = value.IndexOf('=', StringComparison.Ordinal);
                    if (equals <= 0)
                    {
                        error = $"--set '{value}' must be KEY=VALUE (for example Signals:MinVoteScore=0.6).";
                        return false;
                    }

                    settings[value[..equals]] = value[(equals + 1)..];
                    break;
                default:
                    error = $"unknown option '{name}'.";
                    return false;
            }
        }

        if (into.Length == 0)
        {
            error = "--into NAMESPACE is required (a new namespace for the replay's streams).";
            return false;
        }

        if (!EventNamespace.IsValid(into))
        {
            error = EventNamespace.Rule(into);
            return false;
        }

        if (storage is not ("file" or "postgres"))
        {
            error = $"--storage '{storage}' is unknown: use file or postgres.";
            return false;
        }

        if (storage == "file" && postgres is not null)
        {
            error = "--postgres needs --storage postgres.";
            return false;
        }

        if (storage == "postgres" && (path is not null || output is not null))
        {
            error = "--path and --out are for --storage file (PostgreSQL is read and written in place).";
            return false;
        }

        if (report is not null && File.Exists(report))
        {
            error = $"--report '{report}' is a file; give a directory (it is created when missing).";
            return false;
        }

        options = new ReplayOptions(storage, path, postgres, into, symbols, models, settings, output, report);
        return true;
    }
}
