using Microsoft.Extensions.Logging.Abstractions;
using SignalStream.Engine.Events;
using SignalStream.EventStore.File;
using SignalStream.EventStore.Internal;
using static SignalStream.Testing.TestSignals;

namespace SignalStream.EventStore.Tests;

public sealed class EventProjectorTests : IDisposable
{
    private readonly string _folder = TestStorage.NewTempFolder();
    private readonly CommitSignal _commits = new();
    private readonly EventProjections _projections = new();
    private readonly EventHandOff _handOff = new();
    private long _seq;

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    [Fact]
    public async Task ABurstOfCommitsIsReadBackOnceItIsOver()
    {
        // The quiet time is far longer than the gaps between the burst's commits, so only the burst's end lets it read.
        await using var store = await OpenStoreAsync();
        using var projector = await StartProjectorAsync(store, quiet: TimeSpan.FromSeconds(5), maxSettle: TimeSpan.FromSeconds(60));

        for (var i = 0; i < 20; i++)
        {
            await CommitSignalAsync(store);
            await Task.Delay(20);
        }

        Assert.Equal(1, _projections.Position);
        await WaitForPositionAsync(21);
        Assert.Equal(21, _projections.LatestSignals().Single().Value.Seq);
        await projector.StopAsync(CancellationToken.None);
    }

    [Fact]
    public async Task CommitsThatNeverPauseStillMoveTheProjectionsEveryMaxSettle()
    {
        await using var store = await OpenStoreAsync();
        using var projector = await StartProjectorAsync(store, quiet: TimeSpan.FromMinutes(10), maxSettle: TimeSpan.FromMilliseconds(200));

        // Commits every 20 ms, never quiet for 10 minutes: the projections must still follow them while they go on.
        var moved = false;
        var until = DateTime.UtcNow + TestEvents.Wait;
        while (!moved && DateTime.UtcNow < until)
        {
            await CommitSignalAsync(store);
            await Task.Delay(20);
            moved = _projections.Position > 1;
        }

        Assert.True(moved, "the projections did not move while commits went on");
        await projector.StopAsync(CancellationToken.None);
    }

    [Fact]
    public async Task RetentionKeepsTheSegmentOfASignalStillOpenUntilItsOutcomeIsRead()
    {
        // Small segments, two kept: without the hold, the open signal's segment goes once the projector has read past it.
        var options = new FileJournalOptions { Path = _folder, SegmentSizeBytes = 64 * 1024, RetentionMaxSegments = 2 };
        await using var store = await OpenStoreAsync(options);
        using var projector = await StartProjectorAsync(store, quiet: TimeSpan.FromMilliseconds(10), maxSettle: TimeSpan.FromMilliseconds(100));
        var stillOpen = Signal("BTCUSDT", 2) with { ExpiresAt = DateTimeOffset.UtcNow.AddDays(30).ToUnixTimeMilliseconds() };
        await CommitAsync(store, EventStreams.Signals("BTCUSDT"), EventStreams.SignalsType, new SignalIssued(stillOpen));

        await CommitCandlesAsync(store, groups: 20);

        Assert.True(store.SegmentCount > 2, $"{store.SegmentCount} segments: the open signal's must be kept");
        Assert.Contains(await store.ReadStreamAsync(EventStreams.Signals("BTCUSDT"), 1, 10), e => e.Version == 2);

        // Its outcome read, the segment may go.
        await CommitAsync(store, EventStreams.Outcomes("BTCUSDT"), EventStreams.OutcomesType, new SignalResolved(Outcome(stillOpen)));
        await CommitCandlesAsync(store, groups: 10);
        Assert.InRange(store.SegmentCount, 1, 2);
    }

    [Fact]
    public async Task AnEventTheWriterHandedOffIsTakenInsteadOfReadBack()
    {
        await using var store = await OpenStoreAsync();
        using var projector = await StartProjectorAsync(store, quiet: TimeSpan.FromMilliseconds(10), maxSettle: TimeSpan.FromMilliseconds(100));

        // The handed-off object differs from the stored bytes only here, to tell which one the projections got.
        var id = Guid.NewGuid();
        var stored = Signal("ETHUSDT", 1);
        _handOff.Stage(id, new SignalIssued(stored with { Seq = 7 }), 700);
        var data = EventSerializer.Serialize(new SignalIssued(stored), id, DateTimeOffset.UtcNow);
        await store.AppendAsync([new StreamAppend(EventStreams.Signals("ETHUSDT"), EventStreams.SignalsType, ExpectedVersions.Any, [data])]);
        _commits.Notify();
        await WaitForPositionAsync(store.LastPosition);

        Assert.Equal(7, _projections.LatestSignals()[new Contracts.StreamKey("ETHUSDT", stored.Timeframe)].Seq);
        Assert.Equal(0, _handOff.Count);

        // Not handed off (another writer's, or from before a restart): read back as before.
        await CommitAsync(store, EventStreams.Signals("ETHUSDT"), EventStreams.SignalsType, new SignalIssued(Signal("ETHUSDT", 8)));
        Assert.Equal(8, _projections.LatestSignals()[new Contracts.StreamKey("ETHUSDT", stored.Timeframe)].Seq);
        await projector.StopAsync(CancellationToken.None);
    }

    [Fact]
    public void AHandOffThatIsNeverTakenIsDroppedAtItsCapacity()
    {
        var handOff = new EventHandOff();
        var first = Guid.NewGuid();
        handOff.Stage(first, new SignalIssued(Signal("BTCUSDT", 1)), 1);
        for (var i = 1; i < EventHandOff.Capacity; i++)
        {
            handOff.Stage(Guid.NewGuid(), new SignalIssued(Signal("BTCUSDT", 1)), 1);
        }

        Assert.Equal(EventHandOff.Capacity, handOff.Count);
        var last = Guid.NewGuid();
        handOff.Stage(last, new SignalIssued(Signal("BTCUSDT", 2)), 1);

        Assert.Equal(1, handOff.Count);
        Assert.False(handOff.TryTake(first, out _));
        Assert.True(handOff.TryTake(last, out var taken));
        Assert.Equal(2, Assert.IsType<SignalIssued>(taken).Signal.Seq);
    }

    [Fact]
    public void AHandOffIsBoundedByTheBytesOfItsEventsAndTakingOneGivesItsBytesBack()
    {
        var handOff = new EventHandOff();
        var big = (int)(EventHandOff.CapacityBytes / 4);
        var ids = Enumerable.Range(0, 4).Select(_ => Guid.NewGuid()).ToArray();
        foreach (var id in ids)
        {
            handOff.Stage(id, new SignalIssued(Signal("BTCUSDT", 1)), big);
        }

        // Full to the byte: one taken makes room for one more, a second one more would not fit.
        Assert.True(handOff.TryTake(ids[0], out _));
        handOff.Stage(Guid.NewGuid(), new SignalIssued(Signal("BTCUSDT", 2)), big);
        Assert.Equal(4, handOff.Count);
        handOff.Stage(ids[1], new SignalIssued(Signal("BTCUSDT", 1)), big); // restaged (a retry): no more bytes
        Assert.Equal(4, handOff.Count);

        handOff.Stage(Guid.NewGuid(), new SignalIssued(Signal("BTCUSDT", 3)), 1);
        Assert.Equal(1, handOff.Count);
    }

    /// <summary>Groups of 100 candles (~30 KB), each read by the projector before the next is committed.</summary>
    private async Task CommitCandlesAsync(FileEventStore store, int groups)
    {
        for (var g = 0; g < groups; g++)
        {
            var events = Enumerable.Range(0, 100).Select(i =>
            {
                var candle = Candle("BTCUSDT", Contracts.Timeframe.OneMinute, (g * 100) + i);
                return EventSerializer.Serialize(new CandleClosed("simulated", candle.Candle, candle.Origin, candle.EventTime, candle.ReceivedAt), Guid.NewGuid(), DateTimeOffset.UtcNow);
            }).ToList();
            await store.AppendAsync([new StreamAppend(EventStreams.Candles(new Contracts.StreamKey("BTCUSDT", Contracts.Timeframe.OneMinute)), EventStreams.CandlesType, ExpectedVersions.Any, events)]);
            _commits.Notify();
            await WaitForPositionAsync(store.LastPosition);
        }
    }

    private async Task CommitAsync(FileEventStore store, string stream, string type, ISignalStreamEvent e)
    {
        await store.AppendAsync([new StreamAppend(stream, type, ExpectedVersions.Any, [EventSerializer.Serialize(e, Guid.NewGuid(), DateTimeOffset.UtcNow)])]);
        _commits.Notify();
        await WaitForPositionAsync(store.LastPosition);
    }

    private async Task<FileEventStore> OpenStoreAsync(FileJournalOptions? options = null)
    {
        var store = new FileEventStore(options ?? new FileJournalOptions { Path = _folder }, TimeProvider.System, NullLogger<FileEventStore>.Instance);
        await store.InitializeAsync();
        return store;
    }

    /// <summary>A running projector that has read the store's first signal and waits for the next commit.</summary>
    private async Task<EventProjector> StartProjectorAsync(FileEventStore store, TimeSpan quiet, TimeSpan maxSettle)
    {
        var projector = new EventProjector(store, _projections, _commits, TimeProvider.System, NullLogger<EventProjector>.Instance, _handOff)
        {
            Quiet = quiet,
            MaxSettle = maxSettle,
        };
        try
        {
            await projector.StartAsync(CancellationToken.None);

            // Let it read the empty store and wait for a commit, so the first commit takes the path every later one does.
            await Task.Delay(300);
            await CommitSignalAsync(store);
            await WaitForPositionAsync(1);
            return projector;
        }
        catch
        {
            projector.Dispose();
            throw;
        }
    }

    private async Task CommitSignalAsync(FileEventStore store)
    {
        var seq = ++_seq;
        var data = EventSerializer.Serialize(new SignalIssued(Signal("BTCUSDT", seq)), Guid.NewGuid(), DateTimeOffset.UtcNow);
        await store.AppendAsync([new StreamAppend(EventStreams.Signals("BTCUSDT"), EventStreams.SignalsType, seq - 1, [data])]);
        _commits.Notify();
    }

    private async Task WaitForPositionAsync(long position)
    {
        var until = DateTime.UtcNow + TestEvents.Wait;
        while (_projections.Position < position)
        {
            Assert.True(DateTime.UtcNow < until, $"the projections stayed at {_projections.Position}, short of {position}");
            await Task.Delay(10);
        }
    }
}
