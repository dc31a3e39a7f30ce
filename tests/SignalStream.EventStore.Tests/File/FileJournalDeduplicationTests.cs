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

    [Theory]
    [InlineData(1)]
    [InlineData(100)] // a small table: clusters wrap around its end often
    [InlineData(3_000)] // past the first allocation (1,024), not a power of two
    public void TheWindowAnswersAsASetOfTheNewestIdsThroughGrowthEvictionAndForgetting(int capacity)
    {
        var random = new Random(capacity);
        var pool = Enumerable.Range(0, capacity * 4).Select(_ => Guid.NewGuid()).ToArray();
        var window = new RecentEventIds(capacity);
        var model = new Queue<(long Position, Guid Id)>();
        long next = 1;
        for (var step = 0; step < 40_000; step++)
        {
            if (random.Next(500) == 0)
            {
                // Retention deleted a segment: a few of the oldest positions, sometimes more than the window holds.
                var below = next - random.Next(capacity + 2);
                window.ForgetBelow(below);
                while (model.Count > 0 && model.Peek().Position < below)
                {
                    model.Dequeue();
                }
            }
            else
            {
                // Ids from a small pool, so one is sometimes added while still held (a journal written with a larger window).
                var id = pool[random.Next(pool.Length)];
                window.Add(next, id);
                model.Enqueue((next++, id));
                if (model.Count > capacity)
                {
                    model.Dequeue();
                }
            }

            Assert.Equal(model.Count, window.Count);
            var probe = pool[random.Next(pool.Length)];
            Assert.Equal(model.Any(e => e.Id == probe), window.Contains(probe));
            if (step % (capacity / 100 + 1) == 0)
            {
                Assert.All(model, e => Assert.True(window.Contains(e.Id), $"position {e.Position} was forgotten early (step {step})"));
            }
        }

        window.Clear();
        Assert.DoesNotContain(pool, window.Contains);
    }

    private static string Payload(int size) => $$"""{"pad":"{{new string('x', size)}}"}""";

    // The window is set below the validated minimum (Storage:Writer:MaxBatchSize) to keep the journals small.
    private FileEventStore Open() =>
        new(new FileJournalOptions { Path = _folder, DeduplicationWindowEvents = Window }, TimeProvider.System, NullLogger<FileEventStore>.Instance);
}
