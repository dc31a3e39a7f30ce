using System.Diagnostics;
using System.Globalization;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using SignalStream.Contracts;
using SignalStream.Engine.Events;
using SignalStream.EventStore;
using SignalStream.Engine.Journal;
using SignalStream.Engine.Signals;
using SignalStream.Engine.Signals.Internal;
using SignalStream.Testing;

namespace SignalStream.Benchmarks.ReadModel;

/// <summary>
/// One-shot measurements of the performance read model (too large for BenchmarkDotNet's repeated runs):
/// <c>readmodel generate</c> stores a history through <see cref="IEventStore.AppendAsync"/>, <c>readmodel restore</c>
/// times the node's start-up restore over it, <c>readmodel apply</c> the journal's in-memory cost per outcome.
/// Options: <c>--provider postgres|marten</c>, <c>--schema NAME</c>, <c>--outcomes N</c>; the connection string is
/// SIGNALSTREAM_TEST_POSTGRES (scripts/test-services.sh). The commands and figures are in BENCHMARKS.md.
/// </summary>
internal static partial class ReadModelProbe
{
    public static async Task<int> RunAsync(string[] args)
    {
        var command = args.Length > 1 ? args[1] : "";
        var options = Options(args);
        switch (command)
        {
            case "generate":
                await GenerateAsync(options).ConfigureAwait(false);
                return 0;
            case "restore":
                await RestoreAsync(options).ConfigureAwait(false);
                return 0;
            case "apply":
                Apply(options);
                return 0;
            case "project":
                await ProjectAsync(options).ConfigureAwait(false);
                return 0;
            default:
                await Console.Error.WriteLineAsync("usage: readmodel generate|restore|apply|project [--provider postgres|marten] [--schema NAME] [--outcomes N]").ConfigureAwait(false);
                return 2;
        }
    }

    private static Dictionary<string, string> Options(string[] args)
    {
        var options = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["provider"] = "marten",
            ["schema"] = "readmodel",
            ["outcomes"] = "100000",
            ["variants"] = "read,journal,stage",
        };
        for (var i = 2; i + 1 < args.Length; i += 2)
        {
            options[args[i].TrimStart('-')] = args[i + 1];
        }

        return options;
    }

    private static ServiceProvider Services(Dictionary<string, string> options, bool signals)
    {
        var settings = new Dictionary<string, string?>
        {
            ["Storage:Provider"] = options["provider"],
            ["Storage:Postgres:Schema"] = options["schema"],
            ["Storage:Marten:Schema"] = options["schema"],
            ["ConnectionStrings:Postgres"] = TestServices.Postgres,
        };
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(settings).Build();
        var services = new ServiceCollection().AddLogging(b => b.AddSimpleConsole().SetMinimumLevel(LogLevel.Warning));
        services.AddSignalStreamEvents(configuration);
        if (signals)
        {
            services.AddSignalStreamSignals(configuration);
        }

        return services.BuildServiceProvider();
    }

    private static async Task GenerateAsync(Dictionary<string, string> options)
    {
        var outcomes = int.Parse(options["outcomes"], CultureInfo.InvariantCulture);
        await using var provider = Services(options, signals: false);
        var store = provider.GetRequiredService<IEventStore>();
        await store.InitializeAsync().ConfigureAwait(false);
        var clock = Stopwatch.StartNew();
        long events = 0;
        foreach (var group in PerformanceHistory.Groups(outcomes))
        {
            var result = await store.AppendAsync(group).ConfigureAwait(false);
            events += result.Appended;
            if (events % 100_000 < result.Appended)
            {
                Console.WriteLine($"  {events:N0} events, {clock.Elapsed.TotalSeconds:F0} s");
            }
        }

        Console.WriteLine($"generate {options["provider"]} {options["schema"]}: {outcomes:N0} outcomes, {events:N0} events in {clock.Elapsed.TotalSeconds:F1} s");
    }

    private static async Task RestoreAsync(Dictionary<string, string> options)
    {
        var streams = PerformanceHistory.Symbols.SelectMany(s => PerformanceHistory.Timeframes.Select(t => new StreamKey(s, t))).ToList();
        foreach (var variant in options["variants"].Split(','))
        {
            await using var provider = Services(options, signals: true);
            var store = provider.GetRequiredService<IEventStore>();
            await store.InitializeAsync().ConfigureAwait(false);
            var journal = provider.GetRequiredService<SignalJournal>();
            ISignalStateRestore restore = variant switch
            {
                "read" => new CountingRestore(),
                "journal" => journal.CreateRestore(),
                "stage" => provider.GetRequiredService<SignalStage>(),
                _ => throw new ArgumentException($"unknown variant {variant}: read, journal or stage"),
            };

            var loader = new EngineStateLoader(store, restore, new CandleWatermarks(), streams, NullLogger<EngineStateLoader>.Instance);
            var cpu = Process.GetCurrentProcess().TotalProcessorTime;
            var allocated = GC.GetTotalAllocatedBytes(precise: true);
            var clock = Stopwatch.StartNew();
            await loader.StartAsync(CancellationToken.None).ConfigureAwait(false);
            clock.Stop();
            var usedCpu = Process.GetCurrentProcess().TotalProcessorTime - cpu;
            var report = journal.GetReport();
            Console.WriteLine(
                $"restore {options["provider"]} {variant,-7}: {clock.Elapsed.TotalMilliseconds,9:F0} ms wall, {usedCpu.TotalMilliseconds,9:F0} ms CPU, " +
                $"{(GC.GetTotalAllocatedBytes(precise: true) - allocated) / 1048576.0,8:F0} MB allocated; journal rows {report.Groups.Count}, " +
                $"ensemble resolved {Resolved(report)}");
        }
    }

    private static long Resolved(PerformanceReport report)
    {
        foreach (var g in report.Groups)
        {
            if (g is { Model: SignalJournal.EnsembleModel, IsShadow: false, Symbol: SignalJournal.All, Timeframe: SignalJournal.All })
            {
                return g.Wins + g.Losses + g.Expired;
            }
        }

        return 0;
    }

    /// <summary>The journal's own cost per event, from decoded events held in memory (no store, no JSON).</summary>
    private static void Apply(Dictionary<string, string> options)
    {
        var outcomes = int.Parse(options["outcomes"], CultureInfo.InvariantCulture);
        var signals = new List<(Signal Signal, bool IsShadow)>(outcomes);
        var resolved = new List<SignalOutcome>(outcomes);
        foreach (var group in PerformanceHistory.Groups(outcomes))
        {
            foreach (var stream in group)
            {
                foreach (var data in stream.Events)
                {
                    var stored = new StoredEvent(0, stream.StreamId, 0, data.EventId, data.Type, data.SchemaVersion, data.Data, data.CreatedAt);
                    if (!EventSerializer.TryDeserialize(stored, out var @event, out var error))
                    {
                        throw new InvalidOperationException(error);
                    }

                    switch (@event)
                    {
                        case SignalIssued issued:
                            signals.Add((issued.Signal, false));
                            break;
                        case ShadowSignalIssued shadow:
                            signals.Add((shadow.Signal, true));
                            break;
                        case SignalResolved outcome:
                            resolved.Add(outcome.Outcome);
                            break;
                    }
                }
            }
        }

        for (var round = 0; round < 3; round++)
        {
            var journal = new SignalJournal(TimeProvider.System);
            var allocated = GC.GetAllocatedBytesForCurrentThread();
            var clock = Stopwatch.StartNew();
            foreach (var (signal, isShadow) in signals)
            {
                journal.Track(signal, isShadow);
            }

            var tracked = clock.Elapsed;
            var trackAllocated = GC.GetAllocatedBytesForCurrentThread() - allocated;
            foreach (var outcome in resolved)
            {
                journal.Apply(outcome);
            }

            var applied = clock.Elapsed - tracked;
            var applyAllocated = GC.GetAllocatedBytesForCurrentThread() - allocated - trackAllocated;
            clock.Restart();
            var report = journal.GetReport();
            var reportTime = clock.Elapsed;
            Console.WriteLine(
                $"apply round {round}: Track {tracked.TotalMilliseconds * 1000 / signals.Count:F2} µs/signal ({trackAllocated / signals.Count} B), " +
                $"Apply {applied.TotalMilliseconds * 1000 / resolved.Count:F2} µs/outcome ({applyAllocated / resolved.Count} B), " +
                $"GetReport {reportTime.TotalMilliseconds:F2} ms for {report.Groups.Count} rows");
        }
    }

    private sealed class CountingRestore : ISignalStateRestore
    {
        private long _count;

        public void RestoreSignal(Signal signal, bool isShadow) => _count++;

        public void RestoreOutcome(SignalOutcome outcome) => _count++;

        public void RestoreCompleted()
        {
        }
    }
}
