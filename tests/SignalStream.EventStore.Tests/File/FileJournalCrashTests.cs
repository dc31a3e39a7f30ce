using System.Diagnostics;
using System.Text.Json;
using Microsoft.Extensions.Logging.Abstractions;
using SignalStream.EventStore.File;
using SignalStream.EventStore.Internal;
using Xunit.Abstractions;
using static SignalStream.EventStore.Tests.TestEvents;

namespace SignalStream.EventStore.Tests.File;

public sealed class FileJournalCrashTests(ITestOutputHelper output) : IDisposable
{
    private readonly string _folder = TestStorage.NewTempFolder();

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    [Fact]
    public async Task ASigkillDuringGroupCommitsLosesNoAcknowledgedEventAndTheJournalAppendsAgain()
    {
        var acked = new Dictionary<long, int>();
        using (var process = CrashProbe.Start(_folder))
        {
            var stderr = process.StandardError.ReadToEndAsync();
            while (acked.Count < 400)
            {
                var line = await process.StandardOutput.ReadLineAsync().WaitAsync(Wait)
                    ?? throw new InvalidOperationException("the probe exited early: " + await stderr);
                CrashProbe.Record(line, acked);
            }

            process.Kill(); // SIGKILL on Linux: no flush, no finally, mid-group.
            await process.WaitForExitAsync().WaitAsync(Wait);

            // Acknowledgements already in the pipe were printed after their fsync: they count too.
            while (await process.StandardOutput.ReadLineAsync().WaitAsync(Wait) is { } line)
            {
                CrashProbe.Record(line, acked);
            }
        }

        await using var store = Open();
        await store.InitializeAsync();
        var groups = await CrashProbe.ReadGroupsAsync(store, Wait);
        output.WriteLine($"{acked.Count} groups acknowledged, {groups.Count} found after the kill; {store.SegmentCount} segments");

        foreach (var (g, count) in acked)
        {
            Assert.True(groups.TryGetValue(g, out var indexes), $"acknowledged group {g} is missing");
            Assert.Equal(Enumerable.Range(0, count), indexes.Order());
        }

        // At most one group past the last acknowledgement (fsynced, killed before it printed), and it is whole.
        Assert.Equal(Enumerable.Range(1, groups.Count).Select(g => (long)g), groups.Keys.Order());
        Assert.InRange(groups.Count - acked.Count, 0, 1);
        Assert.All(groups.Values, indexes => Assert.Equal(Enumerable.Range(0, indexes.Count), indexes.Order()));

        var after = Event();
        Assert.Equal(1, (await store.AppendAsync([Append("after-crash", ExpectedVersions.Any, after)])).Appended);
        Assert.Equal(after.EventId, Assert.Single(await store.ReadStreamAsync("after-crash", 1, 10)).EventId);
    }

    [Fact]
    public async Task APartlyWrittenRecordAtTheTailIsCutAtOpen()
    {
        var ids = await WriteGroupsAsync(10);
        var segment = LastSegment();
        var validLength = new FileInfo(segment).Length;

        // A header that promises 1000 bytes followed by only 10: what a crash mid-write leaves.
        await using (var file = new FileStream(segment, FileMode.Append))
        {
            file.Write([0xE8, 0x03, 0, 0, 0x12, 0x34, 0x56, 0x78, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
        }

        await using var store = Open();
        await store.InitializeAsync();
        Assert.Equal(validLength, new FileInfo(segment).Length);
        Assert.Equal(ids, await ReadAllIdsAsync(store));
        await AppendsAgainAsync(store);
    }

    [Fact]
    public async Task ARecordWithABadChecksumAtTheTailIsCutAtOpen()
    {
        var ids = await WriteGroupsAsync(10);
        var segment = LastSegment();
        var bytes = await System.IO.File.ReadAllBytesAsync(segment);
        bytes[^3] ^= 0xFF; // inside the last group's last event
        await System.IO.File.WriteAllBytesAsync(segment, bytes);

        await using var store = Open();
        await store.InitializeAsync();
        var read = await ReadAllIdsAsync(store);
        Assert.Equal(ids.Take(read.Count), read);
        Assert.Equal(9, read.Count); // the whole last group (one event per group here) is gone, nothing else
        await AppendsAgainAsync(store);
    }

    [Theory]
    [InlineData(true, false)] // the option: every segment scanned before the open returns
    [InlineData(false, true)] // no sidecar to trust: the segment is scanned
    public async Task CorruptionInsideAnOlderSegmentIsReportedNotSilentlyTruncated(bool verifyOnOpen, bool deleteSidecar)
    {
        await WriteGroupsAsync(200, segmentSize: 64 * 1024, payloadSize: 2000);
        var first = Directory.GetFiles(_folder, "*.seg").Order().First();
        var bytes = await System.IO.File.ReadAllBytesAsync(first);
        bytes[bytes.Length / 2] ^= 0xFF;
        await System.IO.File.WriteAllBytesAsync(first, bytes);
        if (deleteSidecar)
        {
            System.IO.File.Delete(first + ".idx");
        }

        await using var store = new FileEventStore(
            new FileJournalOptions { Path = _folder, SegmentSizeBytes = 64 * 1024, VerifyOnOpen = verifyOnOpen }, TimeProvider.System, NullLogger<FileEventStore>.Instance);
        var error = await Assert.ThrowsAsync<InvalidDataException>(() => store.InitializeAsync().AsTask());
        Assert.Contains($"'{first}' is corrupt at byte ", error.Message);
    }

    [Fact]
    public async Task SegmentsRollOverAndRetentionKeepsWhatAProjectionHasNotConsumed()
    {
        var options = new FileJournalOptions { Path = _folder, SegmentSizeBytes = 64 * 1024, RetentionMaxSegments = 2 };
        await using (var store = new FileEventStore(options, TimeProvider.System, NullLogger<FileEventStore>.Instance))
        {
            await store.InitializeAsync();
            for (var i = 0; i < 100; i++)
            {
                await store.AppendAsync([Append("big", ExpectedVersions.Any, Event(payload: Payload(2000)))]);
            }

            Assert.True(store.SegmentCount > 2, "nothing was released, so retention must keep every segment");

            store.ReleaseUpTo(store.LastPosition);
            for (var i = 0; i < 40; i++)
            {
                await store.AppendAsync([Append("big", ExpectedVersions.Any, Event(payload: Payload(2000)))]);
            }

            Assert.InRange(store.SegmentCount, 1, 2);
        }

        await using var reopened = new FileEventStore(options, TimeProvider.System, NullLogger<FileEventStore>.Instance);
        await reopened.InitializeAsync();
        Assert.Equal(140, await reopened.GetStreamVersionAsync("big"));
        var tail = await reopened.ReadStreamAsync("big", 1, 1000);
        Assert.NotEmpty(tail);
        Assert.Equal(140, tail[^1].Version);
        Assert.Equal(Enumerable.Range((int)tail[0].Version, tail.Count).Select(v => (long)v), tail.Select(e => e.Version));
        Assert.Equal(141, (await reopened.AppendAsync([Append("big", 140, Event())])).Appended + 140);
    }

    [Fact]
    public void Crc32CMatchesTheStandardCheckValue()
    {
        Assert.Equal(0xE3069283u, Crc32C.Compute("123456789"u8));
        Assert.Equal(0u, Crc32C.Compute([]));
    }

    private static string Payload(int size) => $$"""{"pad":"{{new string('x', size)}}"}""";

    private FileEventStore Open(long segmentSize = 64L * 1024 * 1024) =>
        new(new FileJournalOptions { Path = _folder, SegmentSizeBytes = segmentSize }, TimeProvider.System, NullLogger<FileEventStore>.Instance);

    private string LastSegment() => Directory.GetFiles(_folder, "*.seg").Order().Last();

    private async Task<List<Guid>> WriteGroupsAsync(int groups, long segmentSize = 64L * 1024 * 1024, int payloadSize = 10)
    {
        var ids = new List<Guid>();
        await using var store = Open(segmentSize);
        await store.InitializeAsync();
        for (var i = 0; i < groups; i++)
        {
            var e = Event(payload: Payload(payloadSize));
            ids.Add(e.EventId);
            await store.AppendAsync([Append("s-" + (i % 3), ExpectedVersions.Any, e)]);
        }

        return ids;
    }


    private static async Task AppendsAgainAsync(FileEventStore store)
    {
        var e = Event();
        Assert.Equal(1, (await store.AppendAsync([Append("again", ExpectedVersions.Any, e)])).Appended);
        Assert.Equal(e.EventId, Assert.Single(await store.ReadStreamAsync("again", 1, 10)).EventId);
    }
}
