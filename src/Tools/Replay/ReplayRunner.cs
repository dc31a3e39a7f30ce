using System.Diagnostics;
using System.Globalization;
using System.Threading.Channels;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using SignalStream.Contracts;
using SignalStream.Engine;
using SignalStream.Engine.Events;
using SignalStream.Engine.Inference;
using SignalStream.Engine.Journal;
using SignalStream.Engine.Pipeline;
using SignalStream.Engine.Signals;
using SignalStream.EventStore;

namespace SignalStream.Tools.Replay;

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
        InferenceRegistration.ResolveBundledModels(builder.Configuration, builder.Environment.ContentRootPath);
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
            // Every candle went through the signal stage: the journal holds the whole replay.
            var performance = host.Services.GetRequiredService<IPerformanceReport>().GetReport();
            await StopAsync(host, candles.Writer).ConfigureAwait(false);
            stopped = true;
            return (new ReplayResult(done.Candles, done.Signals, done.ShadowSignals, done.Outcomes, models.Length, watch.Elapsed)
            {
                Performance = performance,
                ModelInfos = models,
                FirstCandleClose = done.FirstCandleClose,
                LastCandleClose = done.LastCandleClose,
            }, null);
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
    /// Reads every live closed candle committed before the replay began into the engine's input, in the order a node
    /// takes them from a recording: by close time, then symbol, then timeframe. Not in global store order: the event
    /// writer commits symbols on separate lanes, so that order interleaves symbols by commit timing, and the journal's
    /// roll-ups over several symbols (their maximum drawdown follows the order of outcomes) would depend on it. Stored
    /// TradingView alerts are handed to the signal stage in the same merge, each after the candles that close at or
    /// before its market time (docs/signals.md, "Replay"): the stage keeps an alert until the first candle that closes
    /// after its market time and applies it there, as live, so a vote counts from the same candle, and an alert's signal
    /// is published again under the replay's namespace and scored on the replayed candles.
    /// </summary>
    private static async Task<long> ProduceAsync(
        IEventStore store, IAlertIntake alerts, ReplayOptions options, ChannelWriter<CandleUpdate> output, TextWriter progress, CancellationToken cancellationToken)
    {
        long count = 0;

        // The end: the namespace claim is the newest event now, and everything after it is this replay's own output.
        var end = await store.GetLastPositionAsync(cancellationToken).ConfigureAwait(false);
        var streams = await LiveStreamsAsync(store, end, cancellationToken).ConfigureAwait(false);
        var page = Math.Clamp(MergeBudget / Math.Max(streams.Count, 1), 16, ReadBatch);
        var queue = new PriorityQueue<StoredStream, MergeKey>(MergeKey.Comparer);
        foreach (var (stream, version) in streams)
        {
            var cursor = new StoredStream(store, stream, version, page, progress);
            if (await cursor.MoveNextAsync(cancellationToken).ConfigureAwait(false))
            {
                queue.Enqueue(cursor, cursor.Key);
            }
        }

        while (queue.TryDequeue(out var cursor, out _))
        {
            switch (cursor.Current)
            {
                case TradingViewAlertReceived alert when options.Symbols.Count == 0 || options.Symbols.Contains(alert.Symbol):
                    await alerts.ReplayAsync(alert, cancellationToken).ConfigureAwait(false);
                    break;
                case CandleClosed closed when options.Symbols.Count == 0 || options.Symbols.Contains(closed.Candle.Symbol):
                    // History stays history (features only, as live); everything else is marked as a replay.
                    var origin = closed.Origin == CandleOrigin.History ? CandleOrigin.History : CandleOrigin.Replay;
                    await output.WriteAsync(new CandleUpdate(closed.Exchange, closed.Candle, true, closed.EventTime, closed.ReceivedAt, origin), cancellationToken).ConfigureAwait(false);
                    count++;
                    break;
            }

            if (await cursor.MoveNextAsync(cancellationToken).ConfigureAwait(false))
            {
                queue.Enqueue(cursor, cursor.Key);
            }
        }

        output.TryComplete();
        return count;
    }

    /// <summary>
    /// The live candle and alert streams (not another replay's, under a namespace) with an event at or before
    /// <paramref name="end"/>, and each one's version now: one pass over the global order without the events' data.
    /// </summary>
    private static async Task<List<(string Stream, long Version)>> LiveStreamsAsync(IEventStore store, long end, CancellationToken cancellationToken)
    {
        var names = new SortedSet<string>(StringComparer.Ordinal);
        await using (var global = store.OpenGlobalReader(0, dataOf: []))
        {
            while (global.Position < end)
            {
                var batch = await global.ReadNextAsync(ReadBatch, cancellationToken).ConfigureAwait(false);
                if (batch.Count == 0)
                {
                    // A hole the high-water mark cannot pass yet (PostgreSQL: a transaction still in flight, possibly
                    // this replay's own writer); it resolves once that transaction ends.
                    await Task.Delay(HoleRetry, cancellationToken).ConfigureAwait(false);
                    continue;
                }

                foreach (var stored in batch)
                {
                    if (stored.Position <= end && (IsLiveCandle(stored) || IsLiveAlert(stored)))
                    {
                        names.Add(stored.StreamId);
                    }
                }
            }
        }

        var streams = new List<(string, long)>(names.Count);
        foreach (var name in names)
        {
            streams.Add((name, await store.GetStreamVersionAsync(name, cancellationToken).ConfigureAwait(false)));
        }

        return streams;
    }

    /// <summary>A TradingView alert in a live stream.</summary>
    private static bool IsLiveAlert(StoredEvent stored) =>
        stored.Type == EventSerializer.TradingViewAlertType && !stored.StreamId.Contains('/', StringComparison.Ordinal);

    /// <summary>A closed candle in a live stream: not one another replay (or this one) wrote under a namespace.</summary>
    private static bool IsLiveCandle(StoredEvent stored) =>
        stored.Type == EventSerializer.CandleClosedType && !stored.StreamId.Contains('/', StringComparison.Ordinal);

    /// <summary>Events read ahead per stream while merging, shared out: memory stays bounded with many streams.</summary>
    private const int MergeBudget = 100_000;

    /// <summary>
    /// Where an event goes in the merge: a candle at its close time, an alert at its market time after the candles that
    /// close then (kind 0 before 1), then by symbol and timeframe.
    /// </summary>
    private readonly record struct MergeKey(long Time, int Kind, string Symbol, Timeframe Timeframe)
    {
        public static readonly IComparer<MergeKey> Comparer = Comparer<MergeKey>.Create(static (x, y) =>
        {
            var c = x.Time.CompareTo(y.Time);
            c = c != 0 ? c : x.Kind.CompareTo(y.Kind);
            c = c != 0 ? c : string.CompareOrdinal(x.Symbol, y.Symbol);
            return c != 0 ? c : x.Timeframe.CompareTo(y.Timeframe);
        });
    }

    /// <summary>One stored candle or alert stream read forward a page at a time, up to its version when the replay began.</summary>
    /// <remarks>
    /// An alert stream holds a symbol's alerts of every timeframe, so market times need not grow along it; it is still
    /// read in stored order, and an alert that follows one with a later market time goes out right after it, which is
    /// soon enough: its own timeframe's next close comes after it arrived, so after the earlier alert's market time.
    /// </remarks>
    private sealed class StoredStream(IEventStore store, string stream, long lastVersion, int page, TextWriter progress)
    {
        private IReadOnlyList<StoredEvent> _page = [];
        private int _index;
        private long _next = 1;

        public ISignalStreamEvent Current { get; private set; } = null!;

        public MergeKey Key { get; private set; }

        public async ValueTask<bool> MoveNextAsync(CancellationToken cancellationToken)
        {
            while (true)
            {
                if (_index == _page.Count)
                {
                    if (_next > lastVersion)
                    {
                        return false;
                    }

                    _page = await store.ReadStreamAsync(stream, _next, (int)Math.Min(page, lastVersion - _next + 1), cancellationToken).ConfigureAwait(false);
                    _index = 0;
                    if (_page.Count == 0)
                    {
                        return false;
                    }

                    _next = _page[^1].Version + 1;
                }

                var stored = _page[_index++];
                EventSerializer.TryDeserialize(stored, out var e, out var error);
                switch (e)
                {
                    case CandleClosed closed:
                        Current = closed;
                        Key = new MergeKey(closed.Candle.CloseTime, 0, closed.Candle.Symbol, closed.Candle.Timeframe);
                        return true;
                    case TradingViewAlertReceived alert:
                        Current = alert;
                        Key = new MergeKey(alert.MarketTime, 1, alert.Symbol, alert.Timeframe);
                        return true;
                }

                // Not replayable by this build (a newer schema, damaged data): said once per event, then skipped.
                await progress.WriteLineAsync($"replay: skipping event {stored.EventId} at position {stored.Position} in {stored.StreamId}: {error ?? "not a candle or an alert"}").ConfigureAwait(false);
            }
        }
    }

    private static async Task ReportAsync(PeriodicTimer ticker, ReplayProgress done, TextWriter progress, Stopwatch watch)
    {
        while (await ticker.WaitForNextTickAsync().ConfigureAwait(false))
        {
            await progress.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
                $"replay: {done.Candles} candles, {done.Signals} signals, {done.ShadowSignals} shadow signals, {done.Outcomes} outcomes ({done.Candles / Math.Max(watch.Elapsed.TotalSeconds, 0.001):F0} candles/s)")).ConfigureAwait(false);
        }
    }
}
