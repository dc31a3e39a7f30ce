using System.Net.Http.Json;
using System.Text.Json;
using Marten.Events.Daemon.Coordination;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using SignalStream.Contracts;
using SignalStream.Contracts.Serialization;
using SignalStream.Engine.Events;
using SignalStream.EventStore;
using SignalStream.EventStore.Marten;
using SignalStream.EventStore.Postgres;
using SignalStream.Engine.Journal;

namespace SignalStream.Hub.Tests.EndToEnd;

/// <summary>
/// <c>/api/performance</c> on <c>Storage:Provider=marten</c>: served from the Marten projection on every node, a
/// hub-only node included, and on a real engine node equal to the engine's own journal once everything is committed.
/// </summary>
[Collection(EndToEndCollection.Name)]
public sealed class MartenPerformanceTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(90);

    [Fact]
    public async Task OnARealEngineNodeTheServedProjectionEqualsTheEnginesJournalOnceAStopHasCommittedEverything()
    {
        var schema = "t_" + Guid.NewGuid().ToString("N")[..16];
        PerformanceReport journal;
        await using (var node = await TestServer.StartAsync(
            [
                .. EngineEndToEndTests.EngineRun,

                // One stream: the engine resolves its outcomes in one order, which is the order they are stored in.
                "--Ingest:Symbols=BTCUSDT",
                "--Ingest:Timeframes=1m",
                .. Marten(schema),
            ]))
        {
            // The report a client gets comes from the projection: poll until it shows resolved signals, live and shadow,
            // and signals still open.
            using var deadline = new CancellationTokenSource(Wait);
            PerformanceReport? served;
            while (Resolved(served = await node.Http.GetFromJsonAsync("/api/performance", ContractsJsonContext.Default.PerformanceReport, deadline.Token)) < 3
                || !served!.Groups.Any(g => g is { IsShadow: true, Wins: > 0 } or { IsShadow: true, Losses: > 0 })
                || !served.Groups.Any(g => g is { IsShadow: true, Open: > 0 }))
            {
                await Task.Delay(TimeSpan.FromMilliseconds(200), deadline.Token);
            }

            await node.StopAsync();
            journal = node.Services.GetRequiredService<SignalJournal>().GetReport();
        }

        var projected = await CaughtUpReportAsync(schema);
        Assert.True(Resolved(journal) >= 3);
        Assert.Contains(journal.Groups, g => g.IsShadow && g.Signals > 0);
        Assert.Equal(Json(journal), Json(projected));
    }

    [Fact]
    public async Task AHubOnlyNodeOnMartenServesThePerformanceStatistics()
    {
        var schema = "t_" + Guid.NewGuid().ToString("N")[..16];
        var expected = new SignalJournal(TimeProvider.System);
        await using (var dataSource = EventStoreDataSource.Create(TestServices.Postgres))
        await using (var store = new MartenEventStore(dataSource, new MartenStoreOptions { Schema = schema }, NullLogger<MartenEventStore>.Instance))
        {
            await store.InitializeAsync();
            for (var seq = 1; seq <= 20; seq++)
            {
                var symbol = seq % 2 == 0 ? "BTCUSDT" : "ETHUSDT";
                var signal = TestSignals.Signal(symbol, seq, seq % 3 == 0 ? Timeframe.FiveMinutes : Timeframe.OneMinute);
                var outcome = TestSignals.Outcome(signal) with { Outcome = seq % 4 == 0 ? OutcomeKind.Loss : OutcomeKind.Win, RMultiple = seq % 4 == 0 ? -1 : 1.5 };
                var now = DateTimeOffset.UtcNow;
                List<StreamAppend> group = [new(EventStreams.Signals(symbol), "signals", ExpectedVersions.Any, [EventSerializer.Serialize(new SignalIssued(signal), Guid.NewGuid(), now)])];
                expected.Track(signal, isShadow: false);
                if (seq != 20)
                {
                    // The last one stays open.
                    group.Add(new(EventStreams.Outcomes(symbol), "outcomes", ExpectedVersions.Any, [EventSerializer.Serialize(new SignalResolved(outcome), Guid.NewGuid(), now)]));
                    expected.Apply(outcome);
                }

                await store.AppendAsync(group);
            }
        }

        await using var hub = await TestServer.StartAsync(["--Node:Roles=hub", $"--ConnectionStrings:Redis={TestServices.Redis}", .. Marten(schema)]);
        using var deadline = new CancellationTokenSource(Wait);
        PerformanceReport served;
        while (Resolved(served = (await hub.Http.GetFromJsonAsync("/api/performance", ContractsJsonContext.Default.PerformanceReport, deadline.Token))!) < 19)
        {
            await Task.Delay(TimeSpan.FromMilliseconds(200), deadline.Token);
        }

        Assert.Equal(Json(expected.GetReport()), Json(served));
        Assert.Equal(1, Assert.Single(served.Groups, g => g is { Model: SignalJournal.EnsembleModel, Symbol: "*", Timeframe: "*" }).Open);
    }

    private static string[] Marten(string schema) =>
        ["--Storage:Provider=marten", $"--ConnectionStrings:Postgres={TestServices.Postgres}", $"--Storage:Marten:Schema={schema}"];

    /// <summary>The projection's report once its daemon (a new one: the node has stopped) has applied every stored journal event.</summary>
    private static async Task<PerformanceReport> CaughtUpReportAsync(string schema)
    {
        await using var dataSource = EventStoreDataSource.Create(TestServices.Postgres);
        await using var store = new MartenEventStore(
            dataSource, new MartenStoreOptions { Schema = schema }, NullLogger<MartenEventStore>.Instance,
            configure: marten => PerformanceProjection.Register(marten, NullLogger.Instance));
        await store.InitializeAsync();
        var daemon = new MartenProjectionHost(store, NullLogger<ProjectionCoordinator>.Instance);
        await daemon.StartAsync(CancellationToken.None);
        try
        {
            var last = await store.GetLastJournalPositionAsync(CancellationToken.None);
            using var deadline = new CancellationTokenSource(Wait);
            while (((await store.LoadPerformanceAsync(deadline.Token))?.Position ?? 0) < last)
            {
                await Task.Delay(TimeSpan.FromMilliseconds(100), deadline.Token);
            }

            return await new MartenPerformanceReport(store, TimeProvider.System).GetReportAsync(deadline.Token);
        }
        finally
        {
            await daemon.StopAsync(CancellationToken.None);
            await daemon.DisposeAsync();
        }
    }

    private static int Resolved(PerformanceReport? report) =>
        report?.Groups.FirstOrDefault(g => g is { Model: SignalJournal.EnsembleModel, IsShadow: false, Symbol: "*", Timeframe: "*" }) is { } row
            ? row.Wins + row.Losses + row.Expired
            : 0;

    private static string Json(PerformanceReport report) =>
        JsonSerializer.Serialize(report with { GeneratedAt = 0 }, ContractsJsonContext.Default.PerformanceReport);
}
