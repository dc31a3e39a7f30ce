using System.Collections.Concurrent;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using SignalStream.Contracts;
using SignalStream.Engine;
using SignalStream.Engine.Events;
using SignalStream.Engine.Signals;
using SignalStream.EventStore.File;
using SignalStream.EventStore.Internal;
using static SignalStream.Testing.TestSignals;

namespace SignalStream.EventStore.Tests;

public sealed class EventWriterTests : IDisposable
{
    private readonly string _folder = TestStorage.NewTempFolder();

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    [Fact]
    public async Task ClosedCandlesSignalsAndOutcomesLandInTheirStreamsAndInProgressCandlesDoNot()
    {
        await using var host = await EventsHost.StartAsync(EventsHost.FileSettings(_folder));
        var signal = Signal("BTCUSDT", 1);

        await host.Output.OnCandleAsync(Candle("BTCUSDT", Timeframe.OneMinute, 0, closed: false), default);
        await host.Output.OnCandleAsync(Candle("BTCUSDT", Timeframe.OneMinute, 0), default);
        await host.Output.OnCandleAsync(Candle("BTCUSDT", Timeframe.OneMinute, 1), default);
        await host.Output.OnSignalAsync(signal, default);
        await host.Output.OnShadowSignalAsync(Signal("BTCUSDT", 1) with { Id = "shadow-1" }, default);
        await host.Output.OnOutcomeAsync(Outcome(signal, OutcomeKind.Win, outcomeSeq: 1), default);
        await host.Output.OnOutcomeAsync(Outcome(Signal("BTCUSDT", 1) with { Id = "shadow-1" }, OutcomeKind.Loss, shadow: true), default);
        await host.StopAsync();

        var candles = await host.Store.ReadStreamAsync(EventStreams.Candles(new StreamKey("BTCUSDT", Timeframe.OneMinute)), 1, 10);
        Assert.Equal(2, candles.Count);
        Assert.True(EventSerializer.TryDeserialize(candles[1], out var e, out _));
        var closed = Assert.IsType<CandleClosed>(e);
        Assert.Equal(Candle("BTCUSDT", Timeframe.OneMinute, 1).Candle, closed.Candle);
        Assert.Equal(CandleOrigin.Simulated, closed.Origin);

        var signals = await host.Store.ReadStreamAsync(EventStreams.Signals("BTCUSDT"), 1, 10);
        Assert.True(EventSerializer.TryDeserialize(Assert.Single(signals), out var s, out _));
        Assert.Equal(signal.Id, Assert.IsType<SignalIssued>(s).Signal.Id);
        Assert.Equal(1, await host.Store.GetStreamVersionAsync(EventStreams.ShadowSignals("BTCUSDT")));
        Assert.Equal(1, await host.Store.GetStreamVersionAsync(EventStreams.Outcomes("BTCUSDT")));
        Assert.Equal(1, await host.Store.GetStreamVersionAsync(EventStreams.ShadowOutcomes("BTCUSDT"))); // no gap in the outcomeSeqs
        Assert.Equal([1L], (await host.History.ReadOutcomesAsync("BTCUSDT", 0, 10, default)).Select(o => o.OutcomeSeq));
    }

    [Fact]
    public async Task SignalsAreReadBySeqRangeAndLatestPerTimeframe()
    {
        await using var host = await EventsHost.StartAsync(EventsHost.FileSettings(_folder));
        for (var seq = 1; seq <= 6; seq++)
        {
            await host.Output.OnSignalAsync(Signal("ETHUSDT", seq, seq % 2 == 0 ? Timeframe.OneHour : Timeframe.FiveMinutes), default);
        }

        await host.StopAsync();

        var after2 = await host.History.ReadSignalsAsync("ETHUSDT", 2, 3, default);
        Assert.Equal([3L, 4, 5], after2.Select(s => s.Seq));
        var latest = await host.History.ReadLatestSignalsAsync("ETHUSDT", default);
        Assert.Equal([(Timeframe.FiveMinutes, 5L), (Timeframe.OneHour, 6L)], latest.Select(s => (s.Timeframe, s.Seq)));
        Assert.Equal(6, await host.History.GetLastSeqAsync("ETHUSDT", default));
        Assert.Equal(0, await host.History.GetLastSeqAsync("NOSUCH", default));
        Assert.Same(host.Services.GetRequiredService<ISignalHistory>(), host.Services.GetRequiredService<ISignalSequence>());
    }

    [Fact]
    public async Task ASignalAndItsOutcomeArePublishedAndReadableOnlyOnceTheirCommitIsAcknowledged()
    {
        var (started, store, publisher) = await StartWithControlledStoreAsync(EventsHost.FileSettings(_folder));
        await using var host = started;
        store.Pause();
        var signal = Signal("BTCUSDT", 1);

        // The engine is not held up by the commit: both hand-offs complete while the store is stalled.
        var signalHandOff = host.Output.OnSignalAsync(signal, default);
        Assert.True(signalHandOff.IsCompletedSuccessfully);
        await signalHandOff;
        var outcomeHandOff = host.Output.OnOutcomeAsync(Outcome(signal, OutcomeKind.Win), default);
        Assert.True(outcomeHandOff.IsCompletedSuccessfully);
        await outcomeHandOff;

        // Give the lane every chance to publish early (it must not), then check nobody could have seen the signal.
        await Task.Delay(200);
        Assert.Empty(publisher.Signals);
        Assert.Empty(publisher.Outcomes);
        Assert.Empty(await host.History.ReadSignalsAsync("BTCUSDT", 0, 10, default));
        Assert.Empty(await host.History.ReadLatestSignalsAsync("BTCUSDT", default));
        Assert.Equal(0, await host.History.GetLastSeqAsync("BTCUSDT", default));

        store.Resume();
        await publisher.WaitForOutcomesAsync(1);
        var (symbol, seq, storedWhenPublished) = Assert.Single(publisher.Signals);
        Assert.Equal(("BTCUSDT", 1L), (symbol, seq));
        Assert.Equal(1, storedWhenPublished);
        Assert.Equal(1, Assert.Single(publisher.Outcomes).StoredWhenPublished);
        Assert.Equal([1L], (await host.History.ReadSignalsAsync("BTCUSDT", 0, 10, default)).Select(s => s.Seq));
        await host.StopAsync();
    }

    [Fact]
    public async Task AFailedOrUnacknowledgedCommitIsRetriedWithoutWritingTwice()
    {
        ControllableStore? store = null;
        var settings = EventsHost.FileSettings(_folder);
        settings["Storage:Writer:RetryInitialDelay"] = "00:00:00.010";
        await using var host = await EventsHost.StartAsync(
            settings,
            services => services.AddSingleton<IEventStore>(_ => store = new ControllableStore(FileStore(_folder))));
        store!.FailNext(2);
        store.LoseAcknowledgements(1);

        for (var seq = 1; seq <= 20; seq++)
        {
            await host.Output.OnSignalAsync(Signal("BTCUSDT", seq), default);
        }

        await host.StopAsync();
        var stored = await host.Store.ReadStreamAsync(EventStreams.Signals("BTCUSDT"), 1, 100);
        Assert.Equal(Enumerable.Range(1, 20).Select(i => (long)i), stored.Select(e => e.Version));
        Assert.Equal(20, stored.Select(e => e.EventId).Distinct().Count());
        Assert.True(store.Attempts > 3);
    }

    [Fact]
    public async Task OnSeveralLanesWithFailingAndUnacknowledgedCommitsEverySymbolKeepsItsOrderNothingIsWrittenTwiceAndPublicationFollowsTheCommit()
    {
        var settings = EventsHost.FileSettings(_folder);
        settings["Storage:Writer:CommitLanes"] = "3";
        settings["Storage:Writer:MaxBatchSize"] = "7";
        settings["Storage:Writer:RetryInitialDelay"] = "00:00:00.010";
        var (started, store, publisher) = await StartWithControlledStoreAsync(settings);
        await using var host = started;
        store.FailNext(3);
        store.LoseAcknowledgements(2);

        string[] symbols = ["BTCUSDT", "ETHUSDT", "SOLUSDT", "XRPUSDT", "ADAUSDT", "DOGEUSDT"];
        for (var i = 0; i < 40; i++)
        {
            foreach (var symbol in symbols)
            {
                await host.Output.OnCandleAsync(Candle(symbol, Timeframe.OneMinute, i), default);
                var signal = Signal(symbol, i + 1);
                await host.Output.OnSignalAsync(signal, default);
                await host.Output.OnOutcomeAsync(Outcome(signal, OutcomeKind.Win), default);
            }
        }

        await host.StopAsync();

        foreach (var symbol in symbols)
        {
            var candles = await host.Store.ReadStreamAsync(EventStreams.Candles(new StreamKey(symbol, Timeframe.OneMinute)), 1, 1000);
            var openTimes = candles.Select(e => Assert.IsType<CandleClosed>(EventSerializer.TryDeserialize(e, out var d, out _) ? d : null).Candle.OpenTime);
            Assert.Equal(Enumerable.Range(0, 40).Select(i => Candle(symbol, Timeframe.OneMinute, i).Candle.OpenTime), openTimes);

            var signals = await host.Store.ReadStreamAsync(EventStreams.Signals(symbol), 1, 1000);
            Assert.Equal(Enumerable.Range(1, 40).Select(i => (long)i), signals.Select(e => e.Version));
            var outcomes = await host.Store.ReadStreamAsync(EventStreams.Outcomes(symbol), 1, 1000);
            var resolved = outcomes.Select(e => Assert.IsType<SignalResolved>(EventSerializer.TryDeserialize(e, out var d, out _) ? d : null).Outcome.SignalSeq);
            Assert.Equal(Enumerable.Range(1, 40).Select(i => (long)i), resolved);
            Assert.Equal(120, candles.Count + signals.Count + outcomes.Select(e => e.EventId).Distinct().Count());

            // Published once each, in seq order, and never before the store held it.
            var published = publisher.Signals.Where(p => p.Symbol == symbol).ToList();
            Assert.Equal(Enumerable.Range(1, 40).Select(i => (long)i), published.Select(p => p.Seq));
            Assert.All(published, p => Assert.True(p.StoredWhenPublished >= p.Seq, $"{symbol} seq {p.Seq} was published when the store held {p.StoredWhenPublished}"));
            Assert.Equal(Enumerable.Range(1, 40).Select(i => (long)i), publisher.Outcomes.Where(p => p.Symbol == symbol).Select(p => p.Seq));
        }

        Assert.True(store.Attempts > 5);
    }

    [Fact]
    public void ASymbolAlwaysMapsToTheSameLaneAndSymbolsSpreadOverAllLanes()
    {
        var symbols = Enumerable.Range(0, 200).Select(i => "SYM" + i).ToList();

        Assert.All(symbols, s => Assert.Equal(EventWriter.LaneOf(s, 4), EventWriter.LaneOf(new string(s.ToCharArray()), 4)));
        Assert.Equal([0, 1, 2, 3], symbols.Select(s => EventWriter.LaneOf(s, 4)).Distinct().Order());
        Assert.All(symbols, s => Assert.Equal(0, EventWriter.LaneOf(s, 1)));
    }

    [Fact]
    public async Task AFullBufferMakesTheEngineWaitInsteadOfDropping()
    {
        ControllableStore? store = null;
        var settings = EventsHost.FileSettings(_folder);
        settings["Storage:Writer:BufferCapacity"] = "4";
        settings["Storage:Writer:MaxBatchSize"] = "4";
        await using var host = await EventsHost.StartAsync(
            settings,
            services => services.AddSingleton<IEventStore>(_ => store = new ControllableStore(FileStore(_folder))));
        store!.Pause();

        // The writer holds one batch in its paused commit and the channel holds four more: the next call must wait.
        var (blocked, accepted) = OfferCandlesUntilOneWaits(host, 100);
        Assert.False(blocked.IsCompleted);
        store.Resume();
        await blocked.AsTask().WaitAsync(TestEvents.Wait);
        await host.StopAsync();

        var stored = await host.Store.ReadStreamAsync(EventStreams.Candles(new StreamKey("BTCUSDT", Timeframe.OneMinute)), 1, 1000);
        Assert.Equal(accepted, stored.Count);
    }

    [Fact]
    public async Task AFullByteBoundMakesTheEngineWaitInsteadOfBufferingMore()
    {
        // The event count bound (200,000 by default) is far away: only the bytes can hold the engine back.
        var settings = EventsHost.FileSettings(_folder);
        settings["Storage:Writer:BufferBytes"] = "1048576";
        var (started, store, _) = await StartWithControlledStoreAsync(settings);
        await using var host = started;
        var writer = host.Services.GetRequiredService<EventWriter>();
        store.Pause();

        var (blocked, accepted) = OfferCandlesUntilOneWaits(host, 20_000);
        Assert.False(blocked.IsCompleted, $"{accepted} candles ({writer.BufferedBytes} bytes) were buffered without a wait");
        Assert.InRange(writer.BufferedBytes, 1_048_576 - 2048, 1_048_576);
        store.Resume();
        await blocked.AsTask().WaitAsync(TestEvents.Wait);
        await host.StopAsync();

        var stored = await host.Store.ReadStreamAsync(EventStreams.Candles(new StreamKey("BTCUSDT", Timeframe.OneMinute)), 1, 20_000);
        Assert.Equal(accepted, stored.Count);
        Assert.Equal(0, writer.BufferedBytes);
    }

    [Fact]
    public async Task AnEventLargerThanTheWholeByteBoundIsStillStored()
    {
        var settings = EventsHost.FileSettings(_folder);
        settings["Storage:Writer:BufferBytes"] = "1048576";
        await using var host = await EventsHost.StartAsync(settings);
        var huge = Signal("BTCUSDT", 1) with { Rationale = [new string('x', 2 * 1024 * 1024)] };

        await host.Output.OnSignalAsync(huge, default).AsTask().WaitAsync(TestEvents.Wait);
        await host.Output.OnSignalAsync(Signal("BTCUSDT", 2), default).AsTask().WaitAsync(TestEvents.Wait);
        await host.StopAsync();

        Assert.Equal(2, await host.Store.GetStreamVersionAsync(EventStreams.Signals("BTCUSDT")));
    }

    [Fact]
    public async Task ShutdownCommitsEverythingBuffered()
    {
        await using (var host = await EventsHost.StartAsync(EventsHost.FileSettings(_folder, delay: "00:00:00.200")))
        {
            for (var i = 0; i < 500; i++)
            {
                await host.Output.OnCandleAsync(Candle("SOLUSDT", Timeframe.OneMinute, i), default);
            }

            await host.StopAsync();
        }

        await using var reopened = FileStore(_folder);
        await reopened.InitializeAsync();
        Assert.Equal(500, await reopened.GetStreamVersionAsync(EventStreams.Candles(new StreamKey("SOLUSDT", Timeframe.OneMinute))));
    }

    [Fact]
    public async Task ShutdownCommitsEveryBufferedSignalThenPublishesIt()
    {
        var (started, store, publisher) = await StartWithControlledStoreAsync(EventsHost.FileSettings(_folder));
        await using var host = started;
        store.Pause();
        for (var seq = 1; seq <= 50; seq++)
        {
            await host.Output.OnSignalAsync(Signal("SOLUSDT", seq), default);
        }

        var stopping = host.StopAsync();
        Assert.Empty(publisher.Signals);
        store.Resume();
        await stopping;

        Assert.Equal(50, await host.Store.GetStreamVersionAsync(EventStreams.Signals("SOLUSDT")));
        Assert.Equal(Enumerable.Range(1, 50).Select(i => (long)i), publisher.Signals.Select(p => p.Seq));
        Assert.All(publisher.Signals, p => Assert.True(p.StoredWhenPublished >= p.Seq));
    }

    [Fact]
    public async Task ProjectionsFollowTheStore()
    {
        await using var host = await EventsHost.StartAsync(EventsHost.FileSettings(_folder));
        var s1 = Signal("BTCUSDT", 1);
        var s2 = Signal("BTCUSDT", 2);
        await host.Output.OnCandleAsync(Candle("BTCUSDT", Timeframe.OneMinute, 0), default);
        await host.Output.OnSignalAsync(s1, default);
        await host.Output.OnSignalAsync(s2, default);
        await host.Output.OnOutcomeAsync(Outcome(s1, OutcomeKind.Win), default);
        await host.Output.OnOutcomeAsync(Outcome(s2, OutcomeKind.Loss, shadow: true), default);

        var projections = host.Services.GetRequiredService<EventProjections>();
        while (projections.Position < 5)
        {
            await Task.Delay(10).WaitAsync(TestEvents.Wait);
        }

        Assert.Equal(2, projections.LatestSignals()[new StreamKey("BTCUSDT", Timeframe.OneMinute)].Seq);
        Assert.Equal(new OutcomeStatistics(1, 0, 0, 2), projections.OutcomesByModel()["lstm-direction"]);
        Assert.Equal(new OutcomeStatistics(0, 1, 0, -1), projections.OutcomesByModel()["lstm-direction (shadow)"]);
        var counts = projections.CountsByType();
        Assert.Equal(1, counts[EventSerializer.CandleClosedType]);
        Assert.Equal(2, counts[EventSerializer.SignalIssuedType]);
        Assert.Equal(2, counts[EventSerializer.SignalResolvedType]);

        // The projector took the writer's own objects instead of reading them back: nothing is left handed off.
        Assert.Equal(0, host.Services.GetRequiredService<EventHandOff>().Count);
        await host.StopAsync();
    }

    [Fact]
    public async Task TheSignalSequenceContinuesAfterARestart()
    {
        await using (var host = await EventsHost.StartAsync(EventsHost.FileSettings(_folder)))
        {
            await host.Output.OnSignalAsync(Signal("XRPUSDT", 1), default);
            await host.Output.OnSignalAsync(Signal("XRPUSDT", 2), default);
            await host.StopAsync();
        }

        await using var restarted = await EventsHost.StartAsync(EventsHost.FileSettings(_folder));
        Assert.Equal(2, await restarted.Services.GetRequiredService<ISignalSequence>().GetLastSeqAsync("XRPUSDT", default));
        await restarted.StopAsync();
    }

    [Fact]
    public async Task TheWriterIsTheDurableOutputAndNotAPublisher()
    {
        var configuration = new Microsoft.Extensions.Configuration.ConfigurationBuilder()
            .AddInMemoryCollection(EventsHost.FileSettings(_folder)).Build();
        var services = new ServiceCollection().AddLogging();
        services.AddSignalStreamEvents(configuration);
        await using var provider = services.BuildServiceProvider();

        Assert.Equal("EventWriter", provider.GetRequiredService<IDurableEngineOutput>().GetType().Name);
        Assert.Empty(provider.GetServices<IEngineOutput>());
    }

    [Theory]
    [InlineData("postgres", null, "ConnectionStrings:Postgres is empty")]
    [InlineData("sqlite", null, "Storage:Provider 'sqlite' is unknown")]
    [InlineData("file", "Storage:Writer:MaxBatchSize=0", "Storage:Writer:MaxBatchSize 0 must be between")]
    [InlineData("file", "Storage:Writer:BufferBytes=4096", "Storage:Writer:BufferBytes 4096 must be at least 1048576")]
    [InlineData("file", "Storage:File:DeduplicationWindowEvents=1000", "Storage:File:DeduplicationWindowEvents 1000 must be between Storage:Writer:MaxBatchSize (8192")]
    [InlineData("file", "Storage:File:SegmentSizeBytes=4294967296", "Storage:File:SegmentSizeBytes 4294967296 is too large")]
    [InlineData("postgres", "Storage:Postgres:Schema=Bad-Name", "must be a plain identifier")]
    public async Task InvalidStorageSettingsFailAtStartWithAMessageThatSaysHowToFixThem(string provider, string? extra, string expected)
    {
        var settings = EventsHost.FileSettings(_folder);
        settings["Storage:Provider"] = provider;
        if (provider == "postgres" && extra is not null)
        {
            settings["ConnectionStrings:Postgres"] = "Host=localhost";
        }

        if (extra?.Split('=') is [var key, var value])
        {
            settings[key] = value;
        }

        var configuration = new Microsoft.Extensions.Configuration.ConfigurationBuilder().AddInMemoryCollection(settings).Build();
        var services = new ServiceCollection().AddLogging();
        services.AddSignalStreamEvents(configuration);
        await using var sp = services.BuildServiceProvider();

        var error = Assert.Throws<OptionsValidationException>(() => sp.GetRequiredService<IOptions<StorageOptions>>().Value);
        Assert.Contains(expected, error.Message);
    }

    /// <summary>What /api/candles' search rests on (CandleSeek): a stream's stored open times strictly increase.</summary>
    [Fact]
    public async Task AClosedCandleAtOrBeforeTheStreamsNewestIsNeverStoredSoOpenTimesStrictlyIncrease()
    {
        var stream = new StreamKey("BTCUSDT", Timeframe.OneMinute);
        await using var host = await EventsHost.StartAsync(EventsHost.FileSettings(_folder));
        foreach (var index in new long[] { 0, 1, 3, 1, 3, 2, 0, 5 })
        {
            await host.Output.OnCandleAsync(Candle("BTCUSDT", Timeframe.OneMinute, index), default);
        }

        await host.StopAsync();

        var stored = await host.Store.ReadStreamAsync(EventStreams.Candles(stream), 1, 10);
        var openTimes = stored.Select(e => Assert.IsType<CandleClosed>(EventSerializer.TryDeserialize(e, out var d, out _) ? d : null).Candle.OpenTime);
        Assert.Equal(new long[] { 0, 1, 3, 5 }.Select(i => Candle("BTCUSDT", Timeframe.OneMinute, i).Candle.OpenTime), openTimes);
    }

    [Fact]
    public async Task CandlesOfferedAgainAfterARestartAreNotStoredTwice()
    {
        var stream = new StreamKey("BTCUSDT", Timeframe.OneMinute);
        await using (var host = await EventsHost.StartAsync(EventsHost.FileSettings(_folder)))
        {
            for (var i = 0; i < 3; i++)
            {
                await host.Output.OnCandleAsync(Candle("BTCUSDT", Timeframe.OneMinute, i), default);
            }

            await host.StopAsync();
        }

        // A restart loads warm-up history the store already holds, then goes on live.
        await using var restarted = await EventsHost.StartAsync(EventsHost.FileSettings(_folder));
        var watermarks = restarted.Services.GetRequiredService<CandleWatermarks>();
        var loader = new EngineStateLoader(restarted.Store, restore: null, watermarks, [stream], NullLogger<EngineStateLoader>.Instance);
        await loader.StartAsync(default).WaitAsync(TimeSpan.FromSeconds(30));
        Assert.True(watermarks.TryGet(stream, out var newest));
        Assert.Equal(Candle("BTCUSDT", Timeframe.OneMinute, 2).Candle.OpenTime, newest);

        await restarted.Output.OnCandleAsync(Candle("BTCUSDT", Timeframe.OneMinute, 1) with { Origin = CandleOrigin.History }, default);
        await restarted.Output.OnCandleAsync(Candle("BTCUSDT", Timeframe.OneMinute, 2) with { Origin = CandleOrigin.History }, default);
        await restarted.Output.OnCandleAsync(Candle("BTCUSDT", Timeframe.OneMinute, 3), default);
        await restarted.StopAsync();

        var stored = await restarted.Store.ReadStreamAsync(EventStreams.Candles(stream), 1, 10);
        var openTimes = stored.Select(e => Assert.IsType<CandleClosed>(EventSerializer.TryDeserialize(e, out var d, out _) ? d : null).Candle.OpenTime).ToList();
        Assert.Equal(Enumerable.Range(0, 4).Select(i => Candle("BTCUSDT", Timeframe.OneMinute, i).Candle.OpenTime), openTimes);
    }

    /// <summary>
    /// A writer over a file store the test can stall or fail (<see cref="ControllableStore"/>), with a publisher that
    /// records what reached it; the store exists once the host has started.
    /// </summary>
    private async Task<(EventsHost Host, ControllableStore Store, RecordingPublisher Publisher)> StartWithControlledStoreAsync(
        Dictionary<string, string?> settings)
    {
        ControllableStore? store = null;
        var host = await EventsHost.StartAsync(
            settings,
            services =>
            {
                services.AddSingleton<IEventStore>(_ => store = new ControllableStore(FileStore(_folder)));
                services.AddSingleton<IEngineOutput>(sp => new RecordingPublisher(sp.GetRequiredService<IEventStore>()));
            });
        return (host, store!, host.Services.GetServices<IEngineOutput>().OfType<RecordingPublisher>().Single());
    }

    /// <summary>
    /// Offers BTCUSDT 1m candles until the writer makes one wait, <paramref name="max"/> at most: that call (still running
    /// when it waits) and how many were offered, the waiting one included.
    /// </summary>
    private static (ValueTask Last, int Offered) OfferCandlesUntilOneWaits(EventsHost host, int max)
    {
        ValueTask last = default;
        var offered = 0;
        while (offered < max)
        {
            last = host.Output.OnCandleAsync(Candle("BTCUSDT", Timeframe.OneMinute, offered), default);
            offered++;
            if (!last.IsCompleted)
            {
                break;
            }
        }

        return (last, offered);
    }

    private static FileEventStore FileStore(string folder) =>
        new(new FileJournalOptions { Path = folder }, TimeProvider.System, NullLogger<FileEventStore>.Instance);

    /// <summary>A publisher that records what it was given and how far the store's stream was at that moment.</summary>
    private sealed class RecordingPublisher(IEventStore store) : IEngineOutput
    {
        public ConcurrentQueue<(string Symbol, long Seq, long StoredWhenPublished)> Signals { get; } = new();

        public ConcurrentQueue<(string Symbol, long Seq, long StoredWhenPublished)> Outcomes { get; } = new();

        public ValueTask OnCandleAsync(CandleUpdate update, CancellationToken cancellationToken) => default;

        public async ValueTask OnSignalAsync(Signal signal, CancellationToken cancellationToken) =>
            Signals.Enqueue((signal.Symbol, signal.Seq, await store.GetStreamVersionAsync(EventStreams.Signals(signal.Symbol), cancellationToken)));

        public ValueTask OnShadowSignalAsync(Signal signal, CancellationToken cancellationToken) => default;

        public async ValueTask OnOutcomeAsync(SignalOutcome outcome, CancellationToken cancellationToken) =>
            Outcomes.Enqueue((outcome.Symbol, outcome.SignalSeq, await store.GetStreamVersionAsync(EventStreams.Outcomes(outcome.Symbol), cancellationToken)));

        public async Task WaitForOutcomesAsync(int count)
        {
            using var deadline = new CancellationTokenSource(TestEvents.Wait);
            while (Outcomes.Count < count)
            {
                await Task.Delay(10, deadline.Token);
            }
        }
    }
}
