using Microsoft.Extensions.Logging.Abstractions;
using SignalStream.EventStore.File;
using static SignalStream.EventStore.Tests.TestEvents;

namespace SignalStream.EventStore.Tests.File;

/// <summary>The global reader takes a page's entries in a few large reads; these prove the runs' edges.</summary>
public sealed class FileJournalGlobalReadTests : IDisposable
{
    private readonly string _folder = TestStorage.NewTempFolder();

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    [Fact]
    public async Task PagesAcrossSegmentsAndEntriesLargerThanARunReturnEveryEventWithItsOwnData()
    {
        // 64 KB segments, entries from 10 B to 40 KB, one of 1.5 MB (more than a run reads at once), several per group.
        await using var store = new FileEventStore(
            new FileJournalOptions { Path = _folder, SegmentSizeBytes = 64 * 1024 }, TimeProvider.System, NullLogger<FileEventStore>.Instance);
        await store.InitializeAsync();
        var written = new List<EventData>();
        var random = new Random(7);
        for (var group = 0; group < 120; group++)
        {
            var events = Enumerable.Range(0, 1 + (group % 3))
                .Select(i => Event(i % 2 == 0 ? "kept" : "counted", $$"""{"n":{{written.Count + i}},"pad":"{{new string('x', group == 60 && i == 0 ? 1_500_000 : random.Next(10, 40_000))}}"}"""))
                .ToArray();
            written.AddRange(events);
            await store.AppendAsync([Append("s-" + (group % 4), ExpectedVersions.Any, events)]);
        }

        Assert.True(Directory.GetFiles(_folder, "*.seg").Length > 10, "the events did not span many segments");
        var all = await ReadAllAsync(store, dataOf: null);
        Assert.Equal(written.Select(e => e.EventId), all.Select(e => e.EventId));
        Assert.All(written.Zip(all), pair => Assert.True(pair.First.Data.Span.SequenceEqual(pair.Second.Data.Span), $"event {pair.Second.Position} read back other bytes"));

        var kept = await ReadAllAsync(store, dataOf: ["kept"]);
        Assert.Equal(written.Select(e => e.EventId), kept.Select(e => e.EventId));
        Assert.All(written.Zip(kept), pair => Assert.Equal(pair.First.Type == "kept" ? pair.First.Data.Length : 0, pair.Second.Data.Length));
    }

    private static async Task<List<StoredEvent>> ReadAllAsync(FileEventStore store, IReadOnlyCollection<string>? dataOf)
    {
        await using var reader = store.OpenGlobalReader(0, dataOf);
        var seen = new List<StoredEvent>();
        while (await reader.ReadNextAsync(50).AsTask().WaitAsync(Wait) is { Count: > 0 } page)
        {
            seen.AddRange(page);
        }

        return seen;
    }
}
