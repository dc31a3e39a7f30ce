using System.Diagnostics;
using System.Globalization;
using System.Threading.Channels;
using Microsoft.Extensions.DependencyInjection.Extensions;
using SignalStream.Contracts;
using SignalStream.Engine;
using SignalStream.Engine.Events;
using SignalStream.Engine.Inference;
using SignalStream.Engine.Pipeline;
using SignalStream.Engine.Signals;
using SignalStream.Hub.Hosting;

namespace SignalStream.Hub.Cli.Replay;

/// <summary>
/// Runs stored closed candles through the current engine (features → models → signal stage) into a separate stream
/// namespace. Composition reuses the server's registrations: the event store and a namespaced event writer
/// (<see cref="EventsRegistration.AddSignalStreamEvents(IServiceCollection, IConfiguration, string?)"/>), the engine
/// (<see cref="EngineServiceCollectionExtensions.AddSignalStreamEngine"/>), with the stored candles as the engine's
/// <see cref="ICandleUpdateReader"/> and no ingest, hub or signal-state restore. A file journal is read read-only (no
/// lock: its node may be running) and the replay writes its own journal (<see cref="ReplayOptions.OutFolder"/>);
/// PostgreSQL is read and written in place.
/// </summary>
internal static class ReplayRunner
{
    private const int ReadBatch = 1000;
    private static readonly TimeSpan HoleRetry = TimeSpan.FromMilliseconds(20);

    /// <summary>Runs the replay; a failure the user can fix comes back as <c>Error</c>, not an exception.</summary>
    public static async Task<(ReplayResult? Result, string? Error)> RunAsync(ReplayOptions options, TextWriter progress, CancellationToken cancellationToken)
    {
        var watch = Stopwatch.StartNew();
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { Args = [], ContentRootPath = Directory.GetCurrentDirectory() });
        builder.Configuration.AddInMemoryCollection(Settings(options));
        SignalStreamHost.ResolveBundledModels(builder.Configuration, builder.Environment.ContentRootPath);
        var journal = options.Storage == "file" ? builder.Configuration["Storage:File:Path"] ?? "./data" : null;
        if (journal is not null)
        {
            builder.Configuration.AddInMemoryCollection([new("Storage:File:Path", options.OutFolder(journal))]);
        }

        var clock = new ReplayClock();
        var candles = Channel.CreateBounded<CandleUpdate>(new BoundedChannelOptions(ReadBatch) { SingleReader = true, SingleWriter = true });
        var reader = new StoredCandleReader(candles.Reader, clock);
        var done = new ReplayProgress(reader);

        // The replay clock first: every TryAdd registration of TimeProvider below then keeps it.
        builder.Services.AddSingleton<TimeProvider>(clock);
        builder.Services.AddSignalStreamEvents(builder.Configuration, options.Into);
        builder.Services.AddSingleton<ICandleUpdateReader>(reader);
        builder.Services.AddSignalStreamEngine(builder.Configuration);

        // A publisher: EngineOutputs hands a candle to the writer first, so a candle counts as done once persisted-or-buffered
        // (signals and outcomes are counted after their commit, hence the result is read after the writer's drain).
        builder.Services.AddSingleton<IEngineOutput>(done);

        using var host = builder.Build();
        var source = journal is null ? null : EventsRegistration.OpenFileJournalReadOnly(journal, host.Services.GetRequiredService<ILoggerFactory>());
        var stopped = false;
        try
        {
            if (source is not null)
            {
                await source.InitializeAsync(cancellationToken).ConfigureAwait(false);
            }

            await host.StartAsync(cancellationToken).ConfigureAwait(false);
            var store = host.Services.GetRequiredService<IEventStore>();
            var models = host.Services.GetRequiredService<IModelCatalog>().GetModels()
                .Where(m => m.Error is null && m.Status is "active" or "shadow")
                .OrderBy(m => m.Name, StringComparer.Ordinal)
                .ToArray();
            var claimed = await ClaimNamespaceAsync(store, options.Into, models, cancellationToken).ConfigureAwait(false);
            if (claimed is not null)
            {
                return (null, claimed);
            }

            await progress.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
                $"replay: into '{options.Into}' with {models.Length} models ({string.Join(", ", models.Select(m => $"{m.Name} {m.Version} {m.Status}"))})")).ConfigureAwait(false);

            using var ticker = new PeriodicTimer(TimeSpan.FromSeconds(2));
            var reporting = ReportAsync(ticker, done, progress, watch);
            var alerts = host.Services.GetRequiredService<IAlertIntake>();
            var total = await ProduceAsync(source ?? store, alerts, options, candles.Writer, progress, cancellationToken).ConfigureAwait(false);
            done.ExpectTotal(total);
            await done.Done.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
            ticker.Dispose();
            await reporting.ConfigureAwait(false);
            await StopAsync(host, candles.Writer).ConfigureAwait(false);
            stopped = true;
            return (new ReplayResult(done.Candles, done.Signals, done.ShadowSignals, done.Outcomes, models.Length, watch.Elapsed), null);
        }
        finally
        {
            if (!stopped)
            {
                await StopAsync(host, candles.Writer).ConfigureAwait(false);
            }

            if (source is IAsyncDisposable disposable)
            {
                await disposable.DisposeAsync().ConfigureAwait(false);
            }
        }
    }

    /// <summary>Stops the pipeline, then drains the writer: everything emitted is committed (and counted) after this.</summary>
    private static async Task StopAsync(IHost host, ChannelWriter<CandleUpdate> candles)
    {
        candles.TryComplete();
        await host.StopAsync(CancellationToken.None).ConfigureAwait(false);
    }

    private static Dictionary<string, string?> Settings(ReplayOptions options)
    {
        var settings = new Dictionary<string, string?>
        {
            ["Storage:Provider"] = options.Storage,

            // Lock step sends one row per batch: waiting for a fuller batch would only slow the replay down.
            ["Inference:MaxQueueDelayMicroseconds"] = "0",
            ["Inference:SummarySeconds"] = "0",

            // The verb prints its own progress; the components' information logs would drown it (--set can raise them).
            ["Logging:LogLevel:Default"] = "Warning",
            ["Logging:LogLevel:Microsoft.Hosting.Lifetime"] = "Warning",
        };
        if (options.Path is not null)
        {
            settings["Storage:File:Path"] = options.Path; // the source: the replay writes to its OutFolder
        }

        if (options.Postgres is not null)
        {
            settings["ConnectionStrings:Postgres"] = options.Postgres;
        }

        if (options.Models is not null)
        {
            settings["Models:Path"] = options.Models;
        }

        foreach (var (key, value) in options.Settings)
        {
            settings[key] = value;
        }

        return settings;
    }

    /// <summary>
    /// Records the models this replay runs in <c>{ns}/models</c>, expecting the stream not to exist: a namespace that
    /// already holds a replay is refused (its signal seqs would continue, and the two runs would mix).
    /// </summary>
    private static async Task<string?> ClaimNamespaceAsync(IEventStore store, string ns, ModelInfo[] models, CancellationToken cancellationToken)
    {
        var now = DateTimeOffset.UtcNow;
        var events = models.Length == 0
            ? [EventSerializer.Serialize(new ModelDeactivated("none", "-", "replay started with no loaded model", now.ToUnixTimeMilliseconds()), Guid.CreateVersion7(now), now)]
            : models.Select(m => EventSerializer.Serialize(new ModelActivated(m.Name, m.Version, m.Sha256, m.Status, now.ToUnixTimeMilliseconds()), Guid.CreateVersion7(now), now)).ToArray();
        var result = await store.AppendAsync([new StreamAppend(EventStreams.Models(ns), EventStreams.ModelsType, ExpectedVersions.NoStream, events)], cancellationToken).ConfigureAwait(false);
        return result.IsCommitted
            ? null
            : $"namespace '{ns}' already holds a replay ({result.ConflictActualVersion} events in {EventStreams.Models(ns)}): choose another --into.";
    }

    /// <summary>
    /// Reads every live closed candle committed before the replay began, in global order (the order the engine saw
    /// them), into the engine's input. Stored TradingView alerts are handed to the signal stage as they come in that
    /// order (docs/signals.md, "Replay"): a vote counts from the same candle as live (it carries its market time), and
    /// an alert's signal is published again under the replay's namespace and scored on the replayed candles.
    /// </summary>
    private static async Task<long> ProduceAsync(
        IEventStore store, IAlertIntake alerts, ReplayOptions options, ChannelWriter<CandleUpdate> output, TextWriter progress, CancellationToken cancellationToken)
    {
        long count = 0;

        // The end: the namespace claim is the newest event now, and everything after it is this replay's own output.
        var end = await store.GetLastPositionAsync(cancellationToken).ConfigureAwait(false);
        await using var global = store.OpenGlobalReader(0);
        while (global.Position < end)
        {
            var batch = await global.ReadNextAsync(ReadBatch, cancellationToken).ConfigureAwait(false);
            if (batch.Count == 0)
            {
                // A hole the high-water mark cannot pass yet (PostgreSQL: a transaction still in flight, possibly this
                // replay's own writer); it resolves once that transaction ends.
                await Task.Delay(HoleRetry, cancellationToken).ConfigureAwait(false);
                continue;
            }

            foreach (var stored in batch)
            {
                if (stored.Position <= end && IsLiveAlert(stored))
                {
                    if (EventSerializer.TryDeserialize(stored, out var a, out var alertError) && a is TradingViewAlertReceived alert)
                    {
                        if (options.Symbols.Count == 0 || options.Symbols.Contains(alert.Symbol))
                        {
                            await alerts.ReplayAsync(alert, cancellationToken).ConfigureAwait(false);
                        }
                    }
                    else
                    {
                        await progress.WriteLineAsync($"replay: skipping event {stored.EventId} at position {stored.Position} in {stored.StreamId}: {alertError ?? "not an alert"}").ConfigureAwait(false);
                    }

                    continue;
                }

                if (stored.Position > end || !IsLiveCandle(stored))
                {
                    continue;
                }

                if (!EventSerializer.TryDeserialize(stored, out var e, out var error) || e is not CandleClosed closed)
                {
                    // Not replayable by this build (a newer schema, damaged data): said once per event, then skipped.
                    await progress.WriteLineAsync($"replay: skipping event {stored.EventId} at position {stored.Position} in {stored.StreamId}: {error ?? "not a candle"}").ConfigureAwait(false);
                    continue;
                }

                if (options.Symbols.Count > 0 && !options.Symbols.Contains(closed.Candle.Symbol))
                {
                    continue;
                }

                // History stays history (features only, as live); everything else is marked as a replay.
                var origin = closed.Origin == CandleOrigin.History ? CandleOrigin.History : CandleOrigin.Replay;
                await output.WriteAsync(new CandleUpdate(closed.Exchange, closed.Candle, true, closed.EventTime, closed.ReceivedAt, origin), cancellationToken).ConfigureAwait(false);
                count++;
            }
        }

        output.TryComplete();
        return count;
    }

    /// <summary>A TradingView alert in a live stream.</summary>
    private static bool IsLiveAlert(StoredEvent stored) =>
        stored.Type == EventSerializer.TradingViewAlertType && !stored.StreamId.Contains('/', StringComparison.Ordinal);

    /// <summary>A closed candle in a live stream: not one another replay (or this one) wrote under a namespace.</summary>
    private static bool IsLiveCandle(StoredEvent stored) =>
        stored.Type == EventSerializer.CandleClosedType && !stored.StreamId.Contains('/', StringComparison.Ordinal);

    private static async Task ReportAsync(PeriodicTimer ticker, ReplayProgress done, TextWriter progress, Stopwatch watch)
    {
        while (await ticker.WaitForNextTickAsync().ConfigureAwait(false))
        {
            await progress.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
                $"replay: {done.Candles} candles, {done.Signals} signals, {done.ShadowSignals} shadow signals, {done.Outcomes} outcomes ({done.Candles / Math.Max(watch.Elapsed.TotalSeconds, 0.001):F0} candles/s)")).ConfigureAwait(false);
        }
    }
}
