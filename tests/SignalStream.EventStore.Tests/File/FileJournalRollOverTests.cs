using Microsoft.Extensions.Logging.Abstractions;
using SignalStream.EventStore.File;
using static SignalStream.EventStore.Tests.TestEvents;

namespace SignalStream.EventStore.Tests.File;

/// <summary>
/// The append that rolls the journal over writes a checkpoint of every stream and the sealed segment's sidecar head,
/// and it does so in scratch the store keeps (BENCHMARKS.md, "File journal: the append that rolls over").
/// </summary>
public sealed class FileJournalRollOverTests : IDisposable
{
    private const long SegmentSize = 64 * 1024;

    private readonly List<string> _folders = [];

    public void Dispose()
    {
        foreach (var folder in _folders)
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [Fact]
    public async Task ARollOverAllocatesNothingThatGrowsWithTheNumberOfStreams()
    {
        var few = await AllocatedByARollOverAsync(streams: 100);
        var many = await AllocatedByARollOverAsync(streams: 4_000);

        // 3,900 more streams: ~200 KB more checkpoint and ~200 KB more sidecar head, were they allocated anew.
        Assert.True(many - few < 32 * 1024, $"a roll-over allocated {few:N0} bytes with 100 streams and {many:N0} with 4,000");
    }

    /// <summary>What the append that makes a journal's third roll-over allocates, once every stream has an event.</summary>
    private async Task<long> AllocatedByARollOverAsync(int streams)
    {
        var folder = TestStorage.NewTempFolder();
        _folders.Add(folder);
        await using var store = new FileEventStore(
            new FileJournalOptions { Path = folder, SegmentSizeBytes = SegmentSize }, TimeProvider.System, NullLogger<FileEventStore>.Instance);
        await store.InitializeAsync();
        for (var i = 0; i < streams; i += 100)
        {
            await store.AppendAsync([.. Enumerable.Range(i, Math.Min(100, streams - i)).Select(s => Append($"candles-S{s:D5}USDT-1m", ExpectedVersions.Any, Event()))]);
        }

        long allocated = -1;
        for (var rolled = 0; rolled < 3;)
        {
            var segments = store.SegmentCount;
            var before = GC.GetAllocatedBytesForCurrentThread();
            var append = store.AppendAsync([Append("candles-S00000USDT-1m", ExpectedVersions.Any, Events(20))]);
            allocated = GC.GetAllocatedBytesForCurrentThread() - before;
            Assert.True(append.IsCompletedSuccessfully, "an uncontended append commits on its caller's thread");
            await append;
            rolled += store.SegmentCount > segments ? 1 : 0;
        }

        return allocated;
    }
}
