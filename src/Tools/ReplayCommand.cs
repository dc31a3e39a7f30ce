using System.CommandLine;
using System.Globalization;
using Microsoft.Extensions.Options;
using SignalStream.EventStore;
using SignalStream.Tools.Internal;
using SignalStream.Tools.Replay;
using SignalStream.Tools.Replay.Report;

namespace SignalStream.Tools;

/// <summary>
/// <c>replay</c>: runs the stored closed candles through the current engine (features → models → signal stage) into
/// a separate stream namespace, deterministically: the same stored candles and model versions give the same signals.
/// </summary>
internal static class ReplayCommand
{
    public static Command Create()
    {
        var into = new Option<string>("--into")
        {
            HelpName = "NAMESPACE",
            Description = "The target stream namespace, new (for example replay-2026-05-01): results go to NAMESPACE/signals-SYMBOL, NAMESPACE/outcomes-SYMBOL, ..., never into live streams.",
            Required = true,
        };
        into.Validators.Add(result =>
        {
            var name = result.GetValueOrDefault<string>();
            if (!EventNamespace.IsValid(name))
            {
                result.AddError(EventNamespace.Rule(name));
            }
        });
        var storage = CheckedOption.OneOf("--storage", "The event store to read and write.", "file", ["file", "postgres"], "is unknown: use file or postgres");
        var path = new Option<string?>("--path")
        {
            HelpName = "DIR",
            Description = "The file journal folder to read (default Storage:File:Path, ./data); read-only, so its node may keep running (the replay sees what was committed when it started).",
        };
        var output = new Option<string?>("--out")
        {
            HelpName = "DIR",
            Description = "The journal folder the replay writes (file; default DIR/replays).",
        };
        var postgres = new Option<string?>("--postgres")
        {
            HelpName = "CONN",
            Description = "The PostgreSQL connection string (with --storage postgres; default ConnectionStrings:Postgres from the server's configuration).",
        };
        var symbols = CheckedOption.Create<IReadOnlyList<string>>(
            "--symbols", "A,B,...", "Only these symbols (default all stored).", () => [], CheckedOption.TryParseSymbols,
            "is not a list of symbols (2-20 ASCII letters or digits each, comma-separated)");
        var models = new Option<string?>("--models")
        {
            HelpName = "DIR",
            Description = "The models folder (default the server's Models:Path, ./models).",
        };
        var settings = new Option<string[]>("--set")
        {
            HelpName = "KEY=VALUE",
            Description = "A configuration override, repeatable (for example --set Signals:MinVoteScore=0.6); otherwise the server's configuration (appsettings.json, environment) applies.",
        };
        settings.Validators.Add(result =>
        {
            foreach (var value in result.GetValueOrDefault<string[]>() ?? [])
            {
                if (value.IndexOf('=', StringComparison.Ordinal) <= 0)
                {
                    result.AddError($"--set '{value}' must be KEY=VALUE (for example Signals:MinVoteScore=0.6).");
                }
            }
        });
        var report = new Option<string?>("--report")
        {
            HelpName = "DIR",
            Description = "Write a backtest report there: report.md (figures per model, TradingView source, symbol and timeframe) and PNG charts (equity, drawdown, confidence, calibration); the same input gives the same report.md.",
        };

        var command = new Command(
            "replay",
            "Runs the stored closed candles through the current engine (features, models, signal stage) into a separate stream namespace, deterministically: the same stored candles and model versions give the same signals. Exit codes: 0 done, 1 failed (store or models unusable, namespace taken), 2 usage error.")
        {
            into, storage, path, output, postgres, symbols, models, settings, report,
        };
        command.Validators.Add(result =>
        {
            // Null without --storage: a command's validators run before the options' default values are applied.
            var kind = result.GetValue(storage)?.ToLowerInvariant() ?? "file";
            if (kind == "file" && result.GetValue(postgres) is not null)
            {
                result.AddError("--postgres needs --storage postgres.");
            }

            if (kind == "postgres" && (result.GetValue(path) is not null || result.GetValue(output) is not null))
            {
                result.AddError("--path and --out are for --storage file (PostgreSQL is read and written in place).");
            }

            if (result.GetValue(report) is { } directory && File.Exists(directory))
            {
                result.AddError($"--report '{directory}' is a file; give a directory (it is created when missing).");
            }
        });
        command.SetAction((parsed, cancellationToken) => RunAsync(
            new ReplayOptions(
                parsed.GetValue(storage)!.ToLowerInvariant(),
                parsed.GetValue(path),
                parsed.GetValue(postgres),
                parsed.GetValue(into)!,
                parsed.GetValue(symbols)!.ToHashSet(StringComparer.Ordinal),
                parsed.GetValue(models),
                Settings(parsed.GetValue(settings)),
                parsed.GetValue(output),
                parsed.GetValue(report)),
            parsed.InvocationConfiguration.Output,
            parsed.InvocationConfiguration.Error,
            cancellationToken));
        return command;
    }

    private static async Task<int> RunAsync(ReplayOptions options, TextWriter output, TextWriter error, CancellationToken cancellationToken)
    {
        using var cancel = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        ConsoleCancelEventHandler onCancel = (_, e) =>
        {
            // Ctrl+C stops reading; what the engine already emitted is still committed by the writer's drain.
            e.Cancel = true;
            cancel.Cancel();
        };
        Console.CancelKeyPress += onCancel;
        try
        {
            var (result, failure) = await ReplayRunner.RunAsync(options, output, cancel.Token);
            if (result is null)
            {
                await error.WriteLineAsync($"replay: {failure}");
                return 1;
            }

            await output.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
                $"replay: done in {result.Elapsed.TotalSeconds:F1} s: {result.Candles} candles, {result.Signals} signals, {result.ShadowSignals} shadow signals, {result.Outcomes} outcomes → namespace '{options.Into}'"));
            if (result.Candles == 0)
            {
                await error.WriteLineAsync("replay: the store holds no closed candles (for these symbols); nothing to replay.");
            }

            if (result.Models == 0)
            {
                await error.WriteLineAsync("replay: no model was loaded, so no signals could be produced; check --models.");
                return 1;
            }

            if (options.Report is not null)
            {
                var files = BacktestReport.Write(options.Report, ReportInput(options, result));
                await output.WriteLineAsync($"replay: report written: {string.Join(", ", files)}");
            }

            return 0;
        }
        catch (OptionsValidationException ex)
        {
            await error.WriteLineAsync($"replay: configuration is not valid: {string.Join(" ", ex.Failures)}");
            return 2;
        }
        catch (OperationCanceledException)
        {
            await error.WriteLineAsync("replay: cancelled; the namespace holds a partial replay.");
            return 1;
        }
        catch (Exception ex) when (ex is Npgsql.NpgsqlException or IOException or InvalidDataException or UnauthorizedAccessException)
        {
            await error.WriteLineAsync($"replay: the event store is not usable: {ex.Message}");
            return 1;
        }
        finally
        {
            Console.CancelKeyPress -= onCancel;
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

    // The last --set of a key wins, as the hand-written parser had it.
    private static Dictionary<string, string?> Settings(string[]? values)
    {
        var settings = new Dictionary<string, string?>(StringComparer.OrdinalIgnoreCase);
        foreach (var value in values ?? [])
        {
            var equals = value.IndexOf('=', StringComparison.Ordinal);
            settings[value[..equals]] = value[(equals + 1)..];
        }

        return settings;
    }
}
