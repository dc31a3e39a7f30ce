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

    private async Task<FileEventStore> OpenStoreAsync()
    {
        var store = new FileEventStore(new FileJournalOptions { Path = _folder }, TimeProvider.System, NullLogger<FileEventStore>.Instance);
        await store.InitializeAsync();
        return store;
    }

    /// <summary>A running projector that has read the store's first signal and waits for the next commit.</summary>
    private async Task<EventProjector> StartProjectorAsync(FileEventStore store, TimeSpan quiet, TimeSpan maxSettle)
    {
        var projector = new EventProjector(store, _projections, _commits, TimeProvider.System, NullLogger<EventProjector>.Instance)
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
