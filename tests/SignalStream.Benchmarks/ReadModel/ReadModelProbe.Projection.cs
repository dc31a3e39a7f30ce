using System.Diagnostics;
using System.Globalization;
using Marten.Events.Daemon.Coordination;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;
using SignalStream.Benchmarks.Events;
using SignalStream.Engine.Events;
using SignalStream.EventStore;
using SignalStream.EventStore.Marten;
using SignalStream.EventStore.Postgres;
using SignalStream.Engine.Journal;
using SignalStream.Testing;

namespace SignalStream.Benchmarks.ReadModel;

internal static partial class ReadModelProbe
{
    /// <summary>
    /// The Marten performance projection over a stored history (<c>--schema</c>, Marten provider): its catch-up from
    /// nothing, the report's latency from the document against the journal in memory, then live-like appends (one
    /// signal and one outcome a group, <c>--live N</c> of them every <c>--pace-ms</c>) with and without the daemon:
    /// append latency, commit-to-visible lag and CPU per outcome (client + PostgreSQL).
    /// </summary>
    private static async Task ProjectAsync(Dictionary<string, string> options)
    {
        var schema = options["schema"];
        var live = int.Parse(options.GetValueOrDefault("live", "200"), CultureInfo.InvariantCulture);
        var pace = TimeSpan.FromMilliseconds(int.Parse(options.GetValueOrDefault("pace-ms", "100"), CultureInfo.InvariantCulture));
        var connectionString = TestServices.Postgres;
        using var loggers = LoggerFactory.Create(b => b.AddSimpleConsole().SetMinimumLevel(LogLevel.Warning));
        await using var dataSource = EventStoreDataSource.Create(connectionString);
        await using var store = new MartenEventStore(
            dataSource, new MartenStoreOptions { Schema = schema }, loggers.CreateLogger<MartenEventStore>(),
            configure: m => PerformanceProjection.Register(m, loggers.CreateLogger<PerformanceProjection>()));
        await store.InitializeAsync().ConfigureAwait(false);
        await ResetAsync(dataSource, schema).ConfigureAwait(false);

        // 1. Catch-up from nothing: what deploying the projection on an existing store costs once.
        var last = await store.GetLastPositionAsync().ConfigureAwait(false);
        var outcomes = await CountAsync(dataSource, schema, EventSerializer.SignalResolvedType).ConfigureAwait(false);
        var cpu = new CpuPerEvent(0, "marten");
        var clock = Stopwatch.StartNew();
        await using var host = new MartenProjectionHost(store, NullLogger<ProjectionCoordinator>.Instance);
        await host.StartAsync(CancellationToken.None).ConfigureAwait(false);
        var document = await WaitForAsync(store, last, TimeSpan.FromHours(1)).ConfigureAwait(false);
        Console.WriteLine($"project {schema}: caught up on {outcomes:N0} outcomes ({last:N0} events) in {clock.Elapsed.TotalSeconds:F1} s; " +
            $"per outcome: {cpu.Describe(outcomes)}");
        Console.WriteLine($"project {schema}: document {await DocumentSizeAsync(dataSource, schema).ConfigureAwait(false)}, " +
            $"{document.Journal.Rows.Count} rows, {document.Journal.Open.Count} open");

        // 2. /api/performance: the document (one query, the journal's code) against the journal in memory.
        var report = new MartenPerformanceReport(store, TimeProvider.System);
        var fromDocument = await TimeAsync(50, async () => await report.GetReportAsync().ConfigureAwait(false)).ConfigureAwait(false);
        var journal = SignalJournal.FromSnapshot(document.Journal, TimeProvider.System);
        var inMemory = await TimeAsync(50, () => Task.FromResult(journal.GetReport())).ConfigureAwait(false);
        Console.WriteLine($"report from the document: {fromDocument}; from the journal in memory: {inMemory}");

        // 3. Live-like appends: the daemon idle, then paced appends with it (CPU, then commit → visible lag), then without it.
        var groups = PerformanceHistory.Groups(3 * live, groupSignals: 1, seed: 99, start: PerformanceHistory.DefaultStart + (3_650L * 86_400_000), openPerStream: 0)
            .ToList();
        var idle = new CpuPerEvent(0, "marten");
        await Task.Delay(TimeSpan.FromSeconds(20)).ConfigureAwait(false);
        Console.WriteLine($"daemon idle for 20 s: {idle.Describe(20)} (per second)");
        await LiveAsync(store, dataSource, schema, groups.Take(live).ToList(), pace, daemon: true, lag: false).ConfigureAwait(false);
        await LiveAsync(store, dataSource, schema, groups.Skip(live).Take(live).ToList(), pace, daemon: true, lag: true).ConfigureAwait(false);
        await host.StopAsync(CancellationToken.None).ConfigureAwait(false);
        await LiveAsync(store, dataSource, schema, groups.Skip(2 * live).ToList(), pace, daemon: false, lag: false).ConfigureAwait(false);
    }

    private static async Task LiveAsync(
        MartenEventStore store, NpgsqlDataSource dataSource, string schema, List<IReadOnlyList<StreamAppend>> groups, TimeSpan pace, bool daemon, bool lag)
    {
        var appends = new List<double>(groups.Count);
        var lags = new List<double>(groups.Count);
        var cpu = new CpuPerEvent(0, "marten");
        var started = Stopwatch.StartNew();
        var next = TimeSpan.Zero;
        foreach (var group in groups)
        {
            next += pace;
            if (next > started.Elapsed)
            {
                await Task.Delay(next - started.Elapsed).ConfigureAwait(false);
            }

            var clock = Stopwatch.StartNew();
            await store.AppendAsync(group).ConfigureAwait(false);
            appends.Add(clock.Elapsed.TotalMilliseconds);
            if (lag)
            {
                // Commit → in the document: the daemon's progress row (written in the same transaction), polled every 10 ms.
                var position = await store.GetLastPositionAsync().ConfigureAwait(false);
                while (await ProgressAsync(dataSource, schema).ConfigureAwait(false) < position)
                {
                    await Task.Delay(10).ConfigureAwait(false);
                }

                lags.Add(clock.Elapsed.TotalMilliseconds - appends[^1]);
            }
        }

        if (daemon && !lag)
        {
            // Every outcome in the document before the CPU is read (polled every 200 ms).
            var position = await store.GetLastPositionAsync().ConfigureAwait(false);
            while (await ProgressAsync(dataSource, schema).ConfigureAwait(false) < position)
            {
                await Task.Delay(200).ConfigureAwait(false);
            }
        }

        Console.WriteLine($"live, daemon {(daemon ? "on " : "off")}: {groups.Count} groups of 1 signal + 1 outcome every {pace.TotalMilliseconds} ms; " +
            $"append {Describe(appends)}" + (lag ? $"; commit → visible {Describe(lags)}" : $"; per outcome: {cpu.Describe(groups.Count)} ({started.Elapsed.TotalSeconds:F0} s)"));
    }

    private static async Task<PerformanceDocument> WaitForAsync(MartenEventStore store, long position, TimeSpan timeout, TimeSpan? poll = null)
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            var document = await store.LoadPerformanceAsync(CancellationToken.None).ConfigureAwait(false);
            if (document is not null && document.Position >= position)
            {
                return document;
            }

            if (clock.Elapsed > timeout)
            {
                throw new TimeoutException($"The projection did not reach {position} in {timeout} (at {document?.Position ?? 0}).");
            }

            await Task.Delay(poll ?? TimeSpan.FromMilliseconds(200)).ConfigureAwait(false);
        }
    }

    private static async Task<string> TimeAsync<T>(int count, Func<Task<T>> call)
    {
        var times = new List<double>(count);
        for (var i = 0; i < count; i++)
        {
            var clock = Stopwatch.StartNew();
            await call().ConfigureAwait(false);
            times.Add(clock.Elapsed.TotalMilliseconds);
        }

        return Describe(times);
    }

    private static string Describe(List<double> ms)
    {
        ms.Sort();
        return string.Create(CultureInfo.InvariantCulture,
            $"p50 {ms[ms.Count / 2]:F1} ms, p90 {ms[(int)(ms.Count * 0.9)]:F1} ms, max {ms[^1]:F1} ms");
    }

    private static async Task ResetAsync(NpgsqlDataSource dataSource, string schema)
    {
        await using var command = dataSource.CreateCommand(
            $"DELETE FROM {schema}.mt_doc_performance; DELETE FROM {schema}.mt_event_progression WHERE name LIKE 'performance%'");
        await command.ExecuteNonQueryAsync().ConfigureAwait(false);
    }

    private static async Task<long> ProgressAsync(NpgsqlDataSource dataSource, string schema)
    {
        await using var command = dataSource.CreateCommand(
            $"SELECT coalesce(max(last_seq_id), 0) FROM {schema}.mt_event_progression WHERE name = 'performance:All'");
        return (long)(await command.ExecuteScalarAsync().ConfigureAwait(false))!;
    }

    private static async Task<long> CountAsync(NpgsqlDataSource dataSource, string schema, string type)
    {
        await using var command = dataSource.CreateCommand($"SELECT count(*) FROM {schema}.mt_events WHERE type = $1");
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = type });
        return (long)(await command.ExecuteScalarAsync().ConfigureAwait(false))!;
    }

    private static async Task<string> DocumentSizeAsync(NpgsqlDataSource dataSource, string schema)
    {
        await using var command = dataSource.CreateCommand(
            $"SELECT length(data::text), pg_column_size(data) FROM {schema}.mt_doc_performance");
        await using var reader = await command.ExecuteReaderAsync().ConfigureAwait(false);
        return await reader.ReadAsync().ConfigureAwait(false)
            ? string.Create(CultureInfo.InvariantCulture, $"{reader.GetInt32(0) / 1024.0:F0} KB of JSON ({reader.GetInt32(1) / 1024.0:F0} KB stored)")
            : "missing";
    }
}
