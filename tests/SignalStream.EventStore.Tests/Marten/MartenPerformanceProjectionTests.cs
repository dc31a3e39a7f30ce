using System.Text.Json;
using Marten.Events.Daemon.Coordination;
using Microsoft.Extensions.Logging.Abstractions;
using SignalStream.Contracts;
using SignalStream.Contracts.Serialization;
using SignalStream.Engine.Events;
using SignalStream.EventStore;
using SignalStream.EventStore.Marten;
using SignalStream.Engine.Journal;
using SignalStream.Engine.Signals;

namespace SignalStream.EventStore.Tests.Marten;

/// <summary>
/// The performance statistics as a Marten async projection (Storage:Provider=marten): the same figures as the journal
/// for the same events, committed outcomes only, once each across restarts, and no outcome of a slow transaction
/// skipped. Against the private PostgreSQL, with Marten's own daemon (hot/cold coordinator) running the projection.
/// </summary>
public sealed class MartenPerformanceProjectionTests : IAsyncLifetime
{
    private static readonly TimeSpan CatchUp = TimeSpan.FromSeconds(90);

    private readonly string _schema = TestServices.NewSchema();
    private readonly List<IAsyncDisposable> _owned = [];

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        for (var i = _owned.Count - 1; i >= 0; i--)
        {
            await _owned[i].DisposeAsync();
        }

        await TestStorage.DropSchemaAsync(_schema);
    }

    [Fact]
    public async Task TheProjectionReportsExactlyWhatTheJournalReportsForTheSameEventsInTheStoresOrder()
    {
        var store = await OpenStoreAsync();
        await StartProjectionAsync(store);
        foreach (var group in JournalHistory.Groups(signals: 1500, seed: 1))
        {
            await store.AppendAsync(group);
        }

        var document = await CaughtUpAsync(store, await store.GetLastPositionAsync());

        var expected = (await JournalHistory.JournalInStoreOrderAsync(store)).GetReport();
        var projected = SignalJournal.FromSnapshot(document.Journal, TimeProvider.System).GetReport();
        Assert.Equal(Json(expected), Json(projected));

        // The history covers what the rows distinguish: live and shadow models, TradingView sources, roll-ups, open signals.
        Assert.Contains(projected.Groups, g => g is { IsShadow: true, Model: "lstm-direction-next" });
        Assert.Contains(projected.Groups, g => g.Model == "tradingview:trend" && g.Symbol == "*" && g.Timeframe == "*");
        Assert.Contains(projected.Groups, g => g is { Model: SignalJournal.EnsembleModel, Symbol: "*", Timeframe: "*", Open: > 0, Wins: > 0, Losses: > 0, Expired: > 0 });
        Assert.Equal(0, document.Unreadable);

        // What /api/performance serves on this provider is that document.
        var served = await new MartenPerformanceReport(store, TimeProvider.System).GetReportAsync();
        Assert.Equal(Json(expected), Json(served));
    }

    [Fact]
    public async Task OnOneSymbolTheProjectionEqualsTheJournalTheNodeRebuildsAtStart()
    {
        // The node's start-up rebuild reads each symbol's streams in turn, so on one symbol it applies outcomes in the
        // store's order too: every row, roll-ups and equity curves included, must match.
        var store = await OpenStoreAsync();
        await StartProjectionAsync(store);
        foreach (var group in JournalHistory.Groups(signals: 800, seed: 2, symbols: ["BTCUSDT"]))
        {
            await store.AppendAsync(group);
        }

        var document = await CaughtUpAsync(store, await store.GetLastPositionAsync());

        var rebuilt = new SignalJournal(TimeProvider.System);
        var streams = new[] { new StreamKey("BTCUSDT", Timeframe.OneMinute), new StreamKey("BTCUSDT", Timeframe.FiveMinutes) };
        await new EngineStateLoader(store, rebuilt.CreateRestore(), new CandleWatermarks(), streams, NullLogger<EngineStateLoader>.Instance)
            .StartAsync(CancellationToken.None);
        Assert.Equal(Json(rebuilt.GetReport()), Json(SignalJournal.FromSnapshot(document.Journal, TimeProvider.System).GetReport()));
    }

    [Fact]
    public async Task ARestartNeitherCountsAnOutcomeTwiceNorMissesOne()
    {
        var history = JournalHistory.Groups(signals: 3000, seed: 3);
        var first = await OpenStoreAsync();
        var daemon = await StartProjectionAsync(first);
        var third = history.Count / 3;
        foreach (var group in history.Take(third))
        {
            await first.AppendAsync(group);
        }

        await CaughtUpAsync(first, await first.GetLastPositionAsync());

        // The second part arrives and the daemon is stopped while it is still catching up on it.
        foreach (var group in history.Skip(third).Take(third))
        {
            await first.AppendAsync(group);
        }

        await daemon.StopAsync(CancellationToken.None).WaitAsync(CatchUp);

        // The rest is appended while no daemon runs; then a new node (store and daemon) starts on the same schema.
        foreach (var group in history.Skip(2 * third))
        {
            await first.AppendAsync(group);
        }

        var second = await OpenStoreAsync();
        await StartProjectionAsync(second);
        var document = await CaughtUpAsync(second, await second.GetLastPositionAsync());

        var expected = (await JournalHistory.JournalInStoreOrderAsync(second)).GetReport();
        Assert.Equal(Json(expected), Json(SignalJournal.FromSnapshot(document.Journal, TimeProvider.System).GetReport()));
    }

    [Fact]
    public async Task TwoNodesOnOneStoreCountEveryOutcomeOnce()
    {
        // Each node offers to run the daemon (hot/cold: one holds the lock); both append, both serve the document.
        var first = await OpenStoreAsync();
        var second = await OpenStoreAsync();
        await Task.WhenAll(StartProjectionAsync(first), StartProjectionAsync(second));
        var history = JournalHistory.Groups(signals: 1200, seed: 7);
        for (var i = 0; i < history.Count; i++)
        {
            await (i % 2 == 0 ? first : second).AppendAsync(history[i]);
        }

        var document = await CaughtUpAsync(first, await first.GetLastPositionAsync());
        var expected = Json((await JournalHistory.JournalInStoreOrderAsync(first)).GetReport());
        Assert.Equal(expected, Json(SignalJournal.FromSnapshot(document.Journal, TimeProvider.System).GetReport()));
        Assert.Equal(expected, Json(await new MartenPerformanceReport(second, TimeProvider.System).GetReportAsync()));
    }

    [Fact]
    public async Task AnOutcomeOfASlowTransactionIsWaitedForNotSkipped()
    {
        var store = await OpenStoreAsync();
        await StartProjectionAsync(store);
        var history = JournalHistory.Groups(signals: 40, seed: 4, symbols: ["BTCUSDT", "ETHUSDT"]);
        await store.AppendAsync(history[0]);
        await CaughtUpAsync(store, await store.GetLastPositionAsync());

        // A commit lane's transaction (another symbol's streams) draws its seqs and stays open, a slow commit, while
        // later groups commit after it.
        await using var connection = await TestStorage.DataSource.OpenConnectionAsync();
        await using var slow = await connection.BeginTransactionAsync();
        var slowGroup = JournalHistory.Groups(signals: 12, seed: 5, symbols: ["SOLUSDT"]).SelectMany(g => g).ToList();
        await store.AppendWithinAsync(slow, slowGroup);
        foreach (var group in history.Skip(1))
        {
            await store.AppendAsync(group);
        }

        var after = await store.GetLastPositionAsync();

        // Past Marten's stale-sequence threshold (3 s) the daemon still holds before the open transaction's events.
        await Task.Delay(TimeSpan.FromSeconds(8));
        var held = await store.LoadPerformanceAsync(CancellationToken.None);
        Assert.True(held!.Position < after, $"the projection moved to {held.Position} past an open transaction's events");

        await slow.CommitAsync();
        var document = await CaughtUpAsync(store, after);
        var expected = (await JournalHistory.JournalInStoreOrderAsync(store)).GetReport();
        Assert.Equal(Json(expected), Json(SignalJournal.FromSnapshot(document.Journal, TimeProvider.System).GetReport()));
    }

    private static string Json(PerformanceReport report) =>
        JsonSerializer.Serialize(report with { GeneratedAt = 0 }, ContractsJsonContext.Default.PerformanceReport);

    private async Task<MartenEventStore> OpenStoreAsync()
    {
        var store = new MartenEventStore(
            TestStorage.DataSource,
            new MartenStoreOptions { Schema = _schema },
            NullLogger<MartenEventStore>.Instance,
            configure: marten => PerformanceProjection.Register(marten, NullLogger.Instance));
        _owned.Add(store);
        await store.InitializeAsync();
        return store;
    }

    private async Task<MartenProjectionHost> StartProjectionAsync(MartenEventStore store)
    {
        var host = new MartenProjectionHost(store, NullLogger<ProjectionCoordinator>.Instance);
        _owned.Add(new Stopping(host));
        await host.StartAsync(CancellationToken.None).WaitAsync(CatchUp);
        return host;
    }

    private static async Task<PerformanceDocument> CaughtUpAsync(MartenEventStore store, long position)
    {
        using var timeout = new CancellationTokenSource(CatchUp);
        while (true)
        {
            var document = await store.LoadPerformanceAsync(timeout.Token);
            if (document is not null && document.Position >= position)
            {
                return document;
            }

            await Task.Delay(100, timeout.Token);
        }
    }

    private sealed class Stopping(MartenProjectionHost host) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync()
        {
            await host.StopAsync(CancellationToken.None).WaitAsync(CatchUp);
            await host.DisposeAsync();
        }
    }
}
