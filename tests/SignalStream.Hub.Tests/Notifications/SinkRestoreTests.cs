using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using SignalStream.EventStore;
using SignalStream.Hub.Notifications.Internal;

namespace SignalStream.Hub.Tests.Notifications;

/// <summary>How a sink's progress is rebuilt from its records at start, on the real file store.</summary>
public sealed class SinkRestoreTests : IAsyncLifetime
{
    private readonly string _data = NotificationNode.NewDataDirectory();
    private ServiceProvider _provider = null!;
    private IEventStore _store = null!;

    public async Task InitializeAsync()
    {
        var services = new ServiceCollection().AddLogging();
        services.AddSignalStreamEvents(new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?> { ["Storage:File:Path"] = _data }).Build());
        _provider = services.BuildServiceProvider();
        _store = _provider.GetRequiredService<IEventStore>();
        await _store.InitializeAsync().AsTask().WaitAsync(NotificationNode.Wait);
    }

    public async Task DisposeAsync()
    {
        await _provider.DisposeAsync();
        NotificationNode.DeleteQuietly(_data);
    }

    [Fact]
    public async Task DeliveriesSettledOutOfOrderAndAttemptsMadeAreFoundAgain()
    {
        await AppendAsync(
            Cursor(0, read: 0),
            Done("notification_delivered", 2, settled: 0, read: 3),
            Failed(1, attempts: 1, settled: 0, read: 3),
            Failed(1, attempts: 2, settled: 0, read: 4),
            Done("notification_delivered", 1, settled: 2, read: 5),
            Failed(4, attempts: 3, settled: 2, read: 5),
            Done("notification_dead_lettered", 5, settled: 2, read: 5));

        var restored = await SinkRestore.LoadAsync(_store, "hook", "BTCUSDT", CancellationToken.None);

        Assert.False(restored.IsNew);
        Assert.Equal(2, restored.Signals.Settled);
        Assert.Equal(5, restored.Signals.Reach);
        Assert.Equal(1, restored.Pending);
        Assert.False(restored.Signals.IsSettled(3));
        Assert.False(restored.Signals.IsSettled(4));
        Assert.True(restored.Signals.IsSettled(5));
        Assert.Equal((3, 9_999L), restored.Signals.TakeRestored(4));
        Assert.Equal((0, 0L), restored.Signals.TakeRestored(3));
    }

    [Fact]
    public async Task TheScanStopsAtTheFirstRecordThatReadNoFurtherThanWhatIsSettled()
    {
        // Reading back from the newest record, the one marked read: 100 is the last that can matter (100 is settled).
        // The probe behind it (impossible in a real stream: it names a version past its own read mark) would raise
        // the attempts of version 104 to 9 if the scan went on.
        await AppendAsync(
            Failed(104, attempts: 9, settled: 40, read: 50),
            Cursor(100, read: 100),
            Failed(104, attempts: 2, settled: 100, read: 104),
            Cursor(100, read: 104));

        var restored = await SinkRestore.LoadAsync(_store, "hook", "BTCUSDT", CancellationToken.None);

        Assert.Equal(100, restored.Signals.Settled);
        Assert.Equal((2, 9_999L), restored.Signals.TakeRestored(104));
    }

    [Fact]
    public async Task ASinkWithNoRecordsIsNew() =>
        Assert.True((await SinkRestore.LoadAsync(_store, "hook", "ETHUSDT", CancellationToken.None)).IsNew);

    private static NotificationRecord Cursor(long settled, long read) =>
        new(NotificationRecords.Cursor, "hook", "BTCUSDT", settled, 0, read, 0, 0);

    private static NotificationRecord Done(string kind, long version, long settled, long read) =>
        new NotificationRecord(kind, "hook", "BTCUSDT", settled, 0, read, 0, 0) { DeliveryId = Guid.NewGuid(), Event = "signal", SourceVersion = version, Attempts = 1 };

    private static NotificationRecord Failed(long version, int attempts, long settled, long read) =>
        new NotificationRecord(NotificationRecords.AttemptFailed, "hook", "BTCUSDT", settled, 0, read, 0, 0)
        {
            DeliveryId = Guid.NewGuid(),
            Event = "signal",
            SourceVersion = version,
            Attempts = attempts,
            RetryAt = 9_999,
        };

    private async Task AppendAsync(params NotificationRecord[] records)
    {
        var events = records.Select(r => NotificationRecords.Serialize(r, DateTimeOffset.UtcNow)).ToList();
        var result = await _store.AppendAsync([new StreamAppend(NotificationRecords.Stream("hook", "BTCUSDT"), NotificationRecords.StreamType, ExpectedVersions.Any, events)]);
        Assert.True(result.IsCommitted);
    }
}
