using Microsoft.Extensions.Logging.Abstractions;
using SignalStream.EventStore.File;
using SignalStream.EventStore.File.Internal;
using static SignalStream.EventStore.Tests.TestEvents;

namespace SignalStream.EventStore.Tests.File;

/// <summary>The file journal's bounded de-duplication window (docs/events.md, "Event-id de-duplication").</summary>
public sealed class FileJournalDeduplicationTests : IDisposable
{
    private const int Window = 16;

    private readonly string _folder = TestStorage.NewTempFolder();

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    [Fact]
    public async Task AnIdAmongTheWindowsNewestIsSkippedAfterARestartToo()
    {
        var events = Events(Window);
        await using (var store = Open())
        {
            await store.InitializeAsync();
            foreach (var e in events)
            {
                await store.AppendAsync([Append("s", ExpectedVersions.Any, e)]);
            }
        }

        await using var reopened = Open();
        await reopened.InitializeAsync();

        // The oldest id still in the window, and a whole group re-sent with one new event in it.
        Assert.Equal(0, (await reopened.AppendAsync([Append("s", ExpectedVersions.Any, events[0])])).Appended);
        var fresh = Event();
        Assert.Equal(1, (await reopened.AppendAsync([Append("s", ExpectedVersions.Any, [.. events[^3..], fresh])])).Appended);
        Assert.Equal(Window + 1, await reopened.GetStreamVersionAsync("s"));
        Assert.Equal(fresh.EventId, (await reopened.ReadStreamBackwardAsync("s", 1))[0].EventId);
    }

    [Fact]
    public async Task AnIdOlderThanTheWindowIsAppendedAgainAsANewEvent()
    {
        var first = Event();
        await using var store = Open();
        await store.InitializeAsync();
        await store.AppendAsync([Append("s", ExpectedVersions.Any, first)]);
        await store.AppendAsync([Append("s", ExpectedVersions.Any, Events(Window))]);

        Assert.Equal(1, (await store.AppendAsync([Append("s", ExpectedVersions.Any, first)])).Appended);
        var read = await store.ReadStreamAsync("s", 1, 100);
        Assert.Equal(Window + 2, read.Count);
        Assert.Equal(first.EventId, read[0].EventId);
        Assert.Equal(first.EventId, read[^1].EventId);
    }

    [Fact]
    public async Task AfterARestartTheWindowHoldsTheNewestIdsOfTheJournal()
    {
        var events = Events(Window * 3);
        await using (var store = Open())
        {
            await store.InitializeAsync();
            foreach (var chunk in events.Chunk(5))
            {
                await store.AppendAsync([Append("s", ExpectedVersions.Any, chunk)]);
            }
        }

        await using var reopened = Open();
        await reopened.InitializeAsync();
        Assert.Equal(0, (await reopened.AppendAsync([Append("s", ExpectedVersions.Any, events[^Window..])])).Appended);
        Assert.Equal(1, (await reopened.AppendAsync([Append("s", ExpectedVersions.Any, events[^(Window + 1)])])).Appended);
    }

    [Fact]
    public async Task RetentionForgetsTheIdsOfTheEventsItDeleted()
    {
        var options = new FileJournalOptions { Path = _folder, SegmentSizeBytes = 64 * 1024, RetentionMaxSegments = 2, DeduplicationWindowEvents = 1000 };
        await using var store = new FileEventStore(options, TimeProvider.System, NullLogger<FileEventStore>.Instance);
        await store.InitializeAsync();
        var first = Event(payload: Payload(2000));
        await store.AppendAsync([Append("big", ExpectedVersions.Any, first)]);
        store.ReleaseUpTo(long.MaxValue);
        for (var i = 0; i < 100; i++)
        {
            await store.AppendAsync([Append("big", ExpectedVersions.Any, Event(payload: Payload(2000)))]);
        }

        Assert.NotEqual(first.EventId, (await store.ReadStreamAsync("big", 1, 1))[0].EventId);
        Assert.Equal(1, (await store.AppendAsync([Append("big", ExpectedVersions.Any, first)])).Appended);
    }

    [Fact]
    public void PositionsPastFourBillionKeepTheirHighBitsAndDropFromTheFront()
    {
        long[] positions = [5, 1L << 31, uint.MaxValue, 1L << 32, (1L << 32) + 7, 3L << 32, (3L << 32) + 1];
        var list = new PositionList();
        foreach (var p in positions)
        {
            list.Add(p);
        }

        Assert.Equal(positions, Enumerable.Range(0, list.Count).Select(i => list[i]));

        list.RemoveBelow((1L << 32) + 1);
        Assert.Equal(positions[4..], Enumerable.Range(0, list.Count).Select(i => list[i]));
        list.RemoveBelow(3L << 32);
        Assert.Equal(positions[5..], Enumerable.Range(0, list.Count).Select(i => list[i]));
        list.RemoveBelow(long.MaxValue);
        Assert.Equal(0, list.Count);
        list.Add(4L << 32);
        Assert.Equal(4L << 32, list[0]);
    }

    private static string Payload(int size) => $$"""{"pad":"{{new string('x', size)}}"}""";

    // The window is set below the validated minimum (Storage:Writer:MaxBatchSize) to keep the journals small.
    private FileEventStore Open() =>
        new(new FileJournalOptions { Path = _folder, DeduplicationWindowEvents = Window }, TimeProvider.System, NullLogger<FileEventStore>.Instance);
}
