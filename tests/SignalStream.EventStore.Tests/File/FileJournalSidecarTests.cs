using System.Buffers.Binary;
using System.Diagnostics.Metrics;
using System.Text;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using SignalStream.EventStore.File;
using SignalStream.EventStore.File.Internal;
using SignalStream.EventStore.Internal;
using SignalStream.Testing;
using static SignalStream.EventStore.Tests.TestEvents;

namespace SignalStream.EventStore.Tests.File;

/// <summary>Sealed segments' sidecar indexes: open from them, fall back to a scan, and still find damage (docs/events.md).</summary>
public sealed class FileJournalSidecarTests : IDisposable
{
    private const long SegmentSize = 64 * 1024;
    private static readonly string[] Streams = ["s-0", "s-1", "s-2", "s-3", "s-4"];

    private readonly string _folder = TestStorage.NewTempFolder();

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    [Fact]
    public async Task AJournalReopenedFromSidecarsHasTheSameIndexAsAFullScan()
    {
        var ids = await WriteJournalAsync(groups: 150);
        Assert.True(SealedSegments().Length >= 3, "the test needs several sealed segments");

        List<string> scanned;
        await using (var store = Open(verifyOnOpen: true))
        {
            await store.InitializeAsync();
            Assert.Equal(0, store.SegmentsIndexedFromSidecars);
            scanned = await DescribeAsync(store);
        }

        await using var reopened = Open();
        await reopened.InitializeAsync();
        Assert.Equal(SealedSegments().Length, reopened.SegmentsIndexedFromSidecars);
        Assert.Equal(scanned, await DescribeAsync(reopened));
        await reopened.Verification.WaitAsync(Wait);
        Assert.Empty(reopened.DamagedSegments);

        // The de-duplication window came from the sidecars too: an id of the oldest segment is still skipped.
        var oldest = ids[0];
        var again = new EventData(oldest.Id, "test_event", 1, "{}"u8.ToArray(), DateTimeOffset.UtcNow);
        Assert.Equal(0, (await reopened.AppendAsync([Append(oldest.Stream, ExpectedVersions.Any, again)])).Appended);
        var version = await reopened.GetStreamVersionAsync("s-1");
        Assert.Equal(AppendStatus.Committed, (await reopened.AppendAsync([Append("s-1", version, Event())])).Status);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task TheDeduplicationWindowAfterAReopenHoldsExactlyTheNewestIds(bool verifyOnOpen)
    {
        const int Window = 100;
        var ids = await WriteJournalAsync(groups: 150);
        await using (var writer = Open())
        {
            // One event too large for the segment's room: the last segment holds only it, so the window reaches back
            // across the sealed ones (whose sidecars supply its ids).
            await writer.InitializeAsync();
            var big = Event(payload: Payload(60_000));
            await writer.AppendAsync([Append("s-0", ExpectedVersions.Any, big)]);
            ids.Add(("s-0", big.EventId));
            Assert.Equal(1, writer.LastPosition - (await writer.ReadStreamBackwardAsync("s-0", 2))[1].Position);
        }

        Assert.True(SealedSegments().Length >= 3, "the test needs several sealed segments");
        var options = new FileJournalOptions { Path = _folder, SegmentSizeBytes = SegmentSize, DeduplicationWindowEvents = Window, VerifyOnOpen = verifyOnOpen };
        await using var store = new FileEventStore(options, TimeProvider.System, NullLogger<FileEventStore>.Instance);
        await store.InitializeAsync();
        Assert.Equal(verifyOnOpen ? 0 : SealedSegments().Length, store.SegmentsIndexedFromSidecars);

        foreach (var (stream, id) in ids.TakeLast(Window))
        {
            var again = new EventData(id, "test_event", 1, "{}"u8.ToArray(), DateTimeOffset.UtcNow);
            Assert.Equal(0, (await store.AppendAsync([Append(stream, ExpectedVersions.Any, again)])).Appended);
        }

        var (outsideStream, outside) = ids[^(Window + 1)];
        var older = new EventData(outside, "test_event", 1, "{}"u8.ToArray(), DateTimeOffset.UtcNow);
        Assert.Equal(1, (await store.AppendAsync([Append(outsideStream, ExpectedVersions.Any, older)])).Appended);
    }

    [Fact]
    public async Task ADamagedSealedSegmentWithAValidSidecarOpensAndTheVerificationAfterReportsIt()
    {
        await WriteJournalAsync(groups: 150);
        var first = SealedSegments()[0];
        var bytes = await System.IO.File.ReadAllBytesAsync(first);
        var damagedAt = Array.LastIndexOf(bytes, (byte)'x', bytes.Length * 3 / 4); // inside an event's data
        bytes[damagedAt] ^= 0x01;
        await System.IO.File.WriteAllBytesAsync(first, bytes);

        using var logs = new CapturingLoggerProvider();
        var settings = EventsHost.FileSettings(_folder);
        settings["Storage:File:SegmentSizeBytes"] = SegmentSize.ToString(System.Globalization.CultureInfo.InvariantCulture);
        await using var host = await EventsHost.StartAsync(settings, services => services.AddLogging(b => b.AddProvider(logs)));
        var store = (FileEventStore)host.Store;
        await store.InitializeAsync();
        Assert.Equal(SealedSegments().Length, store.SegmentsIndexedFromSidecars); // opened without parsing the damaged body

        var logged = await logs.WaitForEventAsync(4114).WaitAsync(Wait);
        Assert.Equal(LogLevel.Error, logged.Level);
        Assert.Contains(first, logged.Message);
        await store.Verification.WaitAsync(Wait);
        var damaged = Assert.Single(store.DamagedSegments);
        Assert.Equal(first, damaged.Path);
        Assert.InRange(damaged.From, 1, damagedAt);

        Assert.Equal(1, DamagedSegmentsGauge(host.Services));

        var health = await host.Services.GetRequiredService<HealthCheckService>().CheckHealthAsync().WaitAsync(Wait);
        Assert.Equal(HealthStatus.Degraded, health.Entries["event-store"].Status);
        Assert.Contains(first, health.Entries["event-store"].Description);

        // Events before the damaged record still read; reading past it fails, naming the segment.
        Assert.NotEmpty(await store.ReadStreamAsync("s-0", 1, 1));
        var error = await Assert.ThrowsAsync<InvalidDataException>(() => ReadAllIdsAsync(store));
        Assert.Contains($"'{first}' is damaged from byte {damaged.From}", error.Message);

        await host.StopAsync();
        await host.DisposeAsync();
        await using var verifying = Open(verifyOnOpen: true);
        var refused = await Assert.ThrowsAsync<InvalidDataException>(() => verifying.InitializeAsync().AsTask());
        Assert.Contains($"'{first}' is corrupt at byte ", refused.Message);
    }

    [Fact]
    public async Task AnEventOfASealedSegmentIsNotServedBeforeItsSegmentIsComparedWithItsChecksum()
    {
        await WriteJournalAsync(groups: 150);
        var first = SealedSegments()[0];
        var bytes = await System.IO.File.ReadAllBytesAsync(first);
        var damagedAt = Array.LastIndexOf(bytes, (byte)'x', bytes.Length * 3 / 4); // inside an event's padding:
        bytes[damagedAt] = (byte)'y';                                              // the entry still parses
        await System.IO.File.WriteAllBytesAsync(first, bytes);

        // The background verification sleeps on this clock after its first chunk (the whole first segment, less than a
        // millisecond of its budget), before it compares anything.
        var time = new ManualTimeProvider();
        await using var store = Open(time: time);
        await store.InitializeAsync();
        Assert.Equal(SealedSegments().Length, store.SegmentsIndexedFromSidecars);
        await Poll.UntilAsync(() => time.HasArmedTimer, Wait, "the background verification to sleep");
        Assert.Empty(store.DamagedSegments);

        // The first read that reaches the segment compares it; the damaged entry is refused, not served as 'y'.
        var error = await Assert.ThrowsAsync<InvalidDataException>(() => ReadAllIdsAsync(store));
        var damaged = Assert.Single(store.DamagedSegments);
        Assert.Equal(first, damaged.Path);
        Assert.Contains($"'{first}' is damaged from byte {damaged.From}", error.Message);
        Assert.NotEmpty(await store.ReadStreamBackwardAsync("s-0", 3)); // the newest events, in segments that hold

        // The background then finds the segment compared and reports nothing twice.
        await Poll.UntilAsync(
            () =>
            {
                time.Advance(TimeSpan.FromSeconds(1));
                return store.Verification.IsCompleted;
            },
            Wait,
            "the background verification to finish");
        Assert.Equal(first, Assert.Single(store.DamagedSegments).Path);
    }

    [Theory]
    [InlineData(false, false)]
    [InlineData(false, true)]
    [InlineData(true, false)]
    [InlineData(true, true)]
    public async Task AnAppendDoesNotWaitForAReadOnASlowDisk(bool readsAStream, bool comparesFirst)
    {
        var ids = await WriteJournalAsync(groups: 150);
        var disk = new HeldReads();
        var time = new ManualTimeProvider(); // the background compares one chunk, then sleeps on this clock
        var options = new FileJournalOptions { Path = _folder, SegmentSizeBytes = SegmentSize, VerifyOnOpen = !comparesFirst };
        await using var store = new FileEventStore(options, time, NullLogger<FileEventStore>.Instance, disk, readOnly: false);
        await store.InitializeAsync();
        if (comparesFirst)
        {
            await Poll.UntilAsync(() => time.HasArmedTimer, Wait, "the background verification to sleep");
        }

        // A client pages old history: its read waits on the disk, comparing an unchecked segment first or reading events.
        disk.Hold();
        try
        {
            var read = readsAStream
                ? Task.Run(async () => (await store.ReadStreamAsync("s-1", 1, 1000)).Select(e => e.EventId).ToList())
                : Task.Run(() => ReadAllIdsAsync(store));
            await disk.Reached.WaitAsync(Wait);

            // The candle that closes meanwhile is stored: the read holds no lock the append needs
            // (on a thread of its own: an append that waits for the index lock blocks its caller).
            var added = Event();
            var appended = await Task.Run(() => store.AppendAsync([Append("s-9", ExpectedVersions.Any, added)]).AsTask()).WaitAsync(Wait);
            Assert.Equal(AppendStatus.Committed, appended.Status);
            Assert.False(read.IsCompleted);

            disk.Release();
            var served = await read.WaitAsync(Wait);
            var expected = ids.Where(e => !readsAStream || e.Stream == "s-1").Select(e => e.Id).ToList();
            Assert.Equal(expected, served.Take(expected.Count));
            Assert.Empty(store.DamagedSegments);
        }
        finally
        {
            disk.Release();
        }
    }

    [Fact]
    public async Task AReadWhoseSegmentRetentionDeletesMeanwhileIsReadAgainFromWhatIsRetained()
    {
        var disk = new HeldReads();
        var options = new FileJournalOptions { Path = _folder, SegmentSizeBytes = SegmentSize, RetentionMaxSegments = 2 };
        await using var store = new FileEventStore(options, TimeProvider.System, NullLogger<FileEventStore>.Instance, disk, readOnly: false);
        await store.InitializeAsync();
        for (var i = 0; i < 40; i++)
        {
            await store.AppendAsync([Append("big", ExpectedVersions.Any, Event(payload: Payload(2000)))]);
        }

        var oldest = Directory.GetFiles(_folder, "*.seg").Order().First();
        store.ReleaseUpTo(store.LastPosition); // consumed: retention may delete the oldest segments from now on

        // The read has found where the stream's events lie and waits on the disk for the first of them ...
        disk.Hold();
        try
        {
            var read = Task.Run(() => store.ReadStreamAsync("big", 1, 1000).AsTask());
            await disk.Reached.WaitAsync(Wait);

            // ... while appends roll over and retention deletes the segment it was about to read.
            for (var i = 0; i < 80; i++)
            {
                await Task.Run(() => store.AppendAsync([Append("big", ExpectedVersions.Any, Event(payload: Payload(2000)))]).AsTask()).WaitAsync(Wait);
            }

            Assert.False(System.IO.File.Exists(oldest));
            disk.Release();

            // Read again from what is retained: contiguous versions to the newest, none of the deleted segment's.
            var events = await read.WaitAsync(Wait);
            Assert.NotEmpty(events);
            Assert.True(events[0].Version > 1, $"version {events[0].Version} was in the deleted segment");
            Assert.Equal(Enumerable.Range((int)events[0].Version, events.Count).Select(v => (long)v), events.Select(e => e.Version));
            Assert.Equal(await store.GetStreamVersionAsync("big"), events[^1].Version);
        }
        finally
        {
            disk.Release();
        }
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task ASealedSegmentThatBecomesTheOpenOneIsComparedAtOpenNotReadAsDamagedOnceAppendedTo(bool damaged)
    {
        // A crash between creating a segment and writing its checkpoint (journals from before segments were made under
        // a temporary name) leaves an empty last file: it is dropped, and the sealed segment before it takes the appends.
        await WriteJournalAsync(groups: 150);
        var last = Directory.GetFiles(_folder, "*.seg").Order().Last();
        System.IO.File.Delete(last);
        await System.IO.File.WriteAllBytesAsync(last, []);
        var sealedOne = SealedSegments()[^1];
        Assert.True(System.IO.File.Exists(sealedOne + ".idx"));
        if (damaged)
        {
            var bytes = await System.IO.File.ReadAllBytesAsync(sealedOne);
            bytes[Array.LastIndexOf(bytes, (byte)'x')] = (byte)'y';
            await System.IO.File.WriteAllBytesAsync(sealedOne, bytes);
            await using var refusing = Open();
            var refused = await Assert.ThrowsAsync<InvalidDataException>(() => refusing.InitializeAsync().AsTask());
            Assert.Contains($"'{sealedOne}' is corrupt at byte ", refused.Message);
            return;
        }

        await using var store = Open();
        await store.InitializeAsync();
        var stored = store.LastPosition;
        var added = Event(type: "test_event", payload: Payload(100)); // appended before anything is read
        Assert.Equal(AppendStatus.Committed, (await store.AppendAsync([Append("s-0", ExpectedVersions.Any, added)])).Status);
        var read = await ReadAllIdsAsync(store);
        Assert.Equal(stored + 1, read.Count);
        Assert.Equal(added.EventId, read[^1]);
        await store.Verification.WaitAsync(Wait);
        Assert.Empty(store.DamagedSegments);
    }

    [Fact]
    public async Task ADamagedSegmentThatRetentionDeletesIsNoLongerReported()
    {
        await WriteJournalAsync(groups: 150);
        var first = SealedSegments()[0];
        var bytes = await System.IO.File.ReadAllBytesAsync(first);
        bytes[Array.LastIndexOf(bytes, (byte)'x', bytes.Length * 3 / 4)] ^= 0x01;
        await System.IO.File.WriteAllBytesAsync(first, bytes);

        var options = new FileJournalOptions { Path = _folder, SegmentSizeBytes = SegmentSize, RetentionMaxSegments = 2 };
        await using var store = new FileEventStore(options, TimeProvider.System, NullLogger<FileEventStore>.Instance);
        await store.InitializeAsync();
        await store.Verification.WaitAsync(Wait);
        Assert.Equal(first, Assert.Single(store.DamagedSegments).Path);

        store.ReleaseUpTo(store.LastPosition);
        for (var i = 0; i < 40 && System.IO.File.Exists(first); i++)
        {
            await store.AppendAsync([Append("big", ExpectedVersions.Any, Event(payload: Payload(2000)))]);
        }

        Assert.False(System.IO.File.Exists(first));
        Assert.Empty(store.DamagedSegments);
    }

    [Theory]
    [InlineData("missing")]
    [InlineData("truncated")]
    [InlineData("other version")]
    [InlineData("bad checksum")]
    [InlineData("stale length")]
    [InlineData("another segment's")]
    [InlineData("larger than its segment allows")]
    public async Task AnUnusableSidecarIsIgnoredItsSegmentScannedAndTheSidecarWrittenAgain(string damage)
    {
        var ids = await WriteJournalAsync(groups: 150);
        var sealedSegments = SealedSegments();
        var sidecar = sealedSegments[0] + ".idx";
        var good = await System.IO.File.ReadAllBytesAsync(sidecar);
        var bad = damage switch
        {
            "missing" => null,
            "truncated" => good[..(good.Length / 2)],
            "other version" => Resealed(good, b => BinaryPrimitives.WriteInt32LittleEndian(b.AsSpan(4), 2)),
            "bad checksum" => Flipped(good, good.Length / 2),
            "stale length" => Resealed(good, b => BinaryPrimitives.WriteInt64LittleEndian(b.AsSpan(8), BinaryPrimitives.ReadInt64LittleEndian(b.AsSpan(8)) - 1)),
            "larger than its segment allows" => [],
            _ => await System.IO.File.ReadAllBytesAsync(sealedSegments[1] + ".idx"),
        };
        if (bad is null)
        {
            System.IO.File.Delete(sidecar);
        }
        else if (bad.Length == 0)
        {
            // 3 GiB, sparse (no disk used): more than a byte array holds, so reading it whole would stop the open.
            await using var huge = new FileStream(sidecar, FileMode.Create);
            huge.SetLength(3L << 30);
        }
        else
        {
            await System.IO.File.WriteAllBytesAsync(sidecar, bad);
        }

        await using (var store = Open())
        {
            await store.InitializeAsync();
            Assert.Equal(sealedSegments.Length - 1, store.SegmentsIndexedFromSidecars);
            Assert.Equal(ids.Select(e => e.Id), await ReadAllIdsAsync(store));
        }

        // Written again, byte for byte what the roll-over wrote: a scan and the appends collect the same sidecar.
        Assert.Equal(good, await System.IO.File.ReadAllBytesAsync(sidecar));
        await using var reopened = Open();
        await reopened.InitializeAsync();
        Assert.Equal(sealedSegments.Length, reopened.SegmentsIndexedFromSidecars);
    }

    [Fact]
    public async Task AnOpenWithVerifyOnOpenWritesOnlyTheMissingSidecars()
    {
        await WriteJournalAsync(groups: 150);
        var sealedSegments = SealedSegments();
        var missing = sealedSegments[0] + ".idx";
        var good = await System.IO.File.ReadAllBytesAsync(missing);
        System.IO.File.Delete(missing);
        var kept = sealedSegments[1] + ".idx";
        var written = System.IO.File.GetLastWriteTimeUtc(kept);
        System.IO.File.SetLastWriteTimeUtc(kept, written.AddHours(-1));

        await using var store = Open(verifyOnOpen: true);
        await store.InitializeAsync();
        Assert.Equal(good, await System.IO.File.ReadAllBytesAsync(missing));
        Assert.Equal(written.AddHours(-1), System.IO.File.GetLastWriteTimeUtc(kept));
    }

    [Fact]
    public async Task ASidecarThatCannotBeWrittenLosesNoEventAndItsSegmentIsScannedAtTheNextOpen()
    {
        var ids = new List<Guid>();
        var options = new FileJournalOptions { Path = _folder, SegmentSizeBytes = SegmentSize };
        await using (var store = new FileEventStore(options, TimeProvider.System, NullLogger<FileEventStore>.Instance, new NoRoomForSidecars(), readOnly: false))
        {
            await store.InitializeAsync();
            for (var i = 0; i < 100; i++)
            {
                var e = Event(payload: Payload(2000));
                Assert.Equal(1, (await store.AppendAsync([Append("big", ExpectedVersions.Any, e)])).Appended);
                ids.Add(e.EventId);
            }
        }

        Assert.True(SealedSegments().Length >= 2);
        Assert.Empty(Directory.GetFiles(_folder, "*.idx*"));
        await using var reopened = Open();
        await reopened.InitializeAsync();
        Assert.Equal(0, reopened.SegmentsIndexedFromSidecars);
        Assert.Equal(ids, await ReadAllIdsAsync(reopened));
        Assert.Equal(SealedSegments().Select(s => s + ".idx"), Directory.GetFiles(_folder, "*.idx").Order());
    }

    [Fact]
    public async Task ALeftoverTemporarySidecarAndASidecarWithoutItsSegmentAreRemovedAtOpen()
    {
        await WriteJournalAsync(groups: 150);
        var leftover = SealedSegments()[0] + ".idx.tmp";
        var orphan = Path.Combine(_folder, "0000009999.seg.idx");
        await System.IO.File.WriteAllBytesAsync(leftover, [1, 2, 3]);
        System.IO.File.Copy(SealedSegments()[0] + ".idx", orphan);

        await using var store = Open();
        await store.InitializeAsync();
        Assert.False(System.IO.File.Exists(leftover));
        Assert.False(System.IO.File.Exists(orphan));
        Assert.Equal(SealedSegments().Length, store.SegmentsIndexedFromSidecars);
    }

    [Fact]
    public async Task ATornTailOfTheLastSegmentIsStillCutWhenTheSealedOnesOpenFromSidecars()
    {
        var ids = await WriteJournalAsync(groups: 150);
        var last = Directory.GetFiles(_folder, "*.seg").Order().Last();
        var validLength = new FileInfo(last).Length;
        await using (var file = new FileStream(last, FileMode.Append))
        {
            file.Write([0xE8, 0x03, 0, 0, 0x12, 0x34, 0x56, 0x78, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
        }

        await using var store = Open();
        await store.InitializeAsync();
        Assert.Equal(SealedSegments().Length, store.SegmentsIndexedFromSidecars);
        Assert.Equal(validLength, new FileInfo(last).Length);
        Assert.Equal(ids.Select(e => e.Id), await ReadAllIdsAsync(store));
        Assert.False(System.IO.File.Exists(last + ".idx"), "the open segment has no sidecar");
    }

    [Fact]
    public async Task RetentionDeletesASegmentsSidecarWithIt()
    {
        var options = new FileJournalOptions { Path = _folder, SegmentSizeBytes = SegmentSize, RetentionMaxSegments = 2 };
        await using var store = new FileEventStore(options, TimeProvider.System, NullLogger<FileEventStore>.Instance);
        await store.InitializeAsync();
        for (var i = 0; i < 100; i++)
        {
            await store.AppendAsync([Append("big", ExpectedVersions.Any, Event(payload: Payload(2000)))]);
        }

        Assert.True(SealedSegments().Length > 2);
        store.ReleaseUpTo(store.LastPosition);
        for (var i = 0; i < 40; i++)
        {
            await store.AppendAsync([Append("big", ExpectedVersions.Any, Event(payload: Payload(2000)))]);
        }

        Assert.InRange(store.SegmentCount, 1, 2);
        var sidecars = Directory.GetFiles(_folder, "*.idx").Order().ToArray();
        Assert.Equal(SealedSegments().Select(s => s + ".idx"), sidecars);
    }

    [Fact]
    public async Task AReadOnlyOpenWritesNoSidecar()
    {
        var ids = await WriteJournalAsync(groups: 150);
        foreach (var sidecar in Directory.GetFiles(_folder, "*.idx"))
        {
            System.IO.File.Delete(sidecar);
        }

        var before = Directory.GetFiles(_folder).Order().ToArray();
        await using (var store = FileEventStore.OpenReadOnly(new FileJournalOptions { Path = _folder }, TimeProvider.System, NullLogger<FileEventStore>.Instance))
        {
            await store.InitializeAsync();
            Assert.Equal(ids.Select(e => e.Id), await ReadAllIdsAsync(store));
        }

        Assert.Equal(before, Directory.GetFiles(_folder).Order().ToArray());
    }

    private FileEventStore Open(bool verifyOnOpen = false, TimeProvider? time = null) =>
        new(new FileJournalOptions { Path = _folder, SegmentSizeBytes = SegmentSize, VerifyOnOpen = verifyOnOpen }, time ?? TimeProvider.System, NullLogger<FileEventStore>.Instance);

    private string[] SealedSegments() => Directory.GetFiles(_folder, "*.seg").Order().SkipLast(1).ToArray();

    private static string Payload(int size) => $$"""{"pad":"{{new string('x', size)}}"}""";

    /// <summary>Groups of one to three appends of one to three events over a few streams, sizes varied, two event types.</summary>
    private async Task<List<(string Stream, Guid Id)>> WriteJournalAsync(int groups)
    {
        var random = new Random(7);
        var written = new List<(string Stream, Guid Id)>();
        await using var store = Open();
        await store.InitializeAsync();
        for (var g = 0; g < groups; g++)
        {
            var appends = new List<StreamAppend>();
            foreach (var stream in Streams.OrderBy(_ => random.Next()).Take(random.Next(1, 4)))
            {
                var events = Enumerable.Range(0, random.Next(1, 4))
                    .Select(_ => Event(type: random.Next(3) == 0 ? "other" : "test_event", payload: Payload(random.Next(10, 1200))))
                    .ToArray();
                appends.Add(Append(stream, ExpectedVersions.Any, events));
                written.AddRange(events.Select(e => (stream, e.EventId)));
            }

            Assert.Equal(AppendStatus.Committed, (await store.AppendAsync(appends)).Status);
        }

        return written;
    }

    /// <summary>Everything the contract suite's read paths see of a store, as lines to compare.</summary>
    private static async Task<List<string>> DescribeAsync(FileEventStore store)
    {
        static string Line(StoredEvent e) => $"{e.Position} {e.StreamId} v{e.Version} {e.EventId} {e.Type} {e.SchemaVersion} {e.Timestamp.ToUnixTimeMilliseconds()} {Encoding.UTF8.GetString(e.Data.Span)}";

        var lines = new List<string> { $"last {store.LastPosition} {await store.GetLastPositionAsync()} segments {store.SegmentCount}" };
        foreach (var stream in Streams)
        {
            lines.Add($"{stream} v{await store.GetStreamVersionAsync(stream)}");
            lines.AddRange((await store.ReadStreamAsync(stream, 1, 10_000)).Select(Line));
            lines.AddRange((await store.ReadStreamAsync(stream, 7, 5)).Select(Line));
            lines.AddRange((await store.ReadStreamBackwardAsync(stream, 4)).Select(Line));
        }

        foreach (var dataOf in new[] { null, new[] { "other" } })
        {
            await using var reader = store.OpenGlobalReader(0, dataOf);
            while (await reader.ReadNextAsync(7).AsTask().WaitAsync(Wait) is { Count: > 0 } page)
            {
                lines.AddRange(page.Select(Line));
            }
        }

        return lines;
    }


    private static long DamagedSegmentsGauge(IServiceProvider services)
    {
        var factory = services.GetRequiredService<IMeterFactory>();
        long value = -1;
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Scope == factory && instrument.Name == "signalstream_journal_damaged_segments")
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<int>((_, measurement, _, _) => value = measurement);
        listener.Start();
        listener.RecordObservableInstruments();
        return value;
    }

    /// <summary>A disk on which, once held, reads of segments wait until released (a slow or cold disk).</summary>
    private sealed class HeldReads : JournalFiles
    {
        private readonly TaskCompletionSource _reached = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private volatile TaskCompletionSource? _hold;

        /// <summary>Completes when a read waits.</summary>
        public Task Reached => _reached.Task;

        public void Hold() => _hold = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

        public void Release() => _hold?.TrySetResult();

        public override int Read(Microsoft.Win32.SafeHandles.SafeFileHandle handle, Span<byte> buffer, long offset)
        {
            if (_hold is { Task.IsCompleted: false } hold)
            {
                _reached.TrySetResult();
                hold.Task.Wait(2 * Wait); // a synchronous read, held the way a slow disk holds it (the test releases it)
            }

            return base.Read(handle, buffer, offset);
        }
    }

    /// <summary>A disk that fills up halfway through every sidecar (and has room for everything else).</summary>
    private sealed class NoRoomForSidecars : JournalFiles
    {
        private readonly HashSet<Microsoft.Win32.SafeHandles.SafeFileHandle> _sidecars = [];

        public override Microsoft.Win32.SafeHandles.SafeFileHandle Create(string path)
        {
            var handle = base.Create(path);
            if (path.EndsWith(".idx.tmp", StringComparison.Ordinal))
            {
                _sidecars.Add(handle);
            }

            return handle;
        }

        public override void Write(Microsoft.Win32.SafeHandles.SafeFileHandle handle, ReadOnlySpan<byte> bytes, long offset)
        {
            if (_sidecars.Contains(handle))
            {
                base.Write(handle, bytes[..(bytes.Length / 2)], offset);
                throw new IOException("No space left on device (simulated)");
            }

            base.Write(handle, bytes, offset);
        }
    }

    /// <summary>The sidecar changed by <paramref name="change"/>, its own checksum made to hold again.</summary>
    private static byte[] Resealed(byte[] sidecar, Action<byte[]> change)
    {
        var copy = sidecar.ToArray();
        change(copy);
        BinaryPrimitives.WriteUInt32LittleEndian(copy.AsSpan(copy.Length - 4), Crc32C.Compute(copy.AsSpan(0, copy.Length - 4)));
        return copy;
    }

    private static byte[] Flipped(byte[] bytes, int at)
    {
        var copy = bytes.ToArray();
        copy[at] ^= 0x01;
        return copy;
    }
}
