using System.Buffers.Binary;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Logging.Abstractions;
using SignalStream.EventStore.File;
using SignalStream.EventStore.File.Internal;
using Xunit.Abstractions;
using static SignalStream.EventStore.Tests.TestEvents;

namespace SignalStream.EventStore.Tests.File;

/// <summary>
/// SIGKILL during segment roll-overs (tests/EventStoreCrashProbe): whatever step a roll-over was at, the next open
/// loses no acknowledged group, leaves no temporary file, uses the sidecars that survived and rewrites the missing ones,
/// and reads the same as a full scan.
/// </summary>
public sealed class FileJournalRollOverCrashTests(ITestOutputHelper output) : IDisposable
{
    // About two of the probe's groups (1–40 events of up to ~500 bytes): an append rolls over every second or third
    // time, so even the kills not aimed at a step often land in a roll-over.
    private const long SegmentSize = 16 * 1024;

    // A few segments' worth of events, so the window starts inside a sealed segment indexed from its sidecar.
    private const int Window = 100;
    private static readonly string[] Streams = ["crash-0", "crash-1", "crash-2", "crash-3"];

    // In order, on one folder: stop at a roll-over step (tests/EventStoreCrashProbe/RollOverPause.cs) the n-th time the
    // run reaches it, or (no step) kill right after the n-th acknowledgement, wherever the probe is then. "open:": the
    // step of the probe's own open rewriting the sidecar the kill before left missing, so that kill is not followed by
    // the test's opens (Reopen false), which would repair it first.
    private static readonly (string? Step, int N, bool Reopen)[] Kills =
    [
        ("segment-created", 2, true), (null, 5, true), ("sidecar-started", 3, false), ("open:sidecar-half", 1, true),
        (null, 1, true), ("sidecar-half", 1, true), (null, 9, true), ("sidecar-written", 4, true), (null, 3, true),
        ("sidecar-renamed", 2, true), (null, 14, true), ("sidecar-half", 5, true), ("group-torn", 2, true), (null, 7, true),
    ];

    private readonly string _folder = TestStorage.NewTempFolder();

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    [Fact]
    public async Task ASigkillAtAnyStepOfARollOverLosesNoAcknowledgedGroupAndTheNextOpenRepairsTheSidecars()
    {
        var expected = new SortedDictionary<long, int>(); // every group acknowledged (or found) so far: its event count
        var inRollOver = 0;
        var unplanned = new List<Left>();
        foreach (var (step, n, reopen) in Kills)
        {
            var first = expected.Count == 0 ? 1 : expected.Keys.Max() + 1;
            var acked = await RunAndKillAsync(first, step, n, expected);
            var left = Observe();
            output.WriteLine($"kill {(step is null ? $"after ack {n}" : $"at {step} #{n}")}: {acked.Count} acked; left {left}");
            if (left.InRollOver)
            {
                inRollOver++;
            }

            if (step is null)
            {
                unplanned.Add(left);
            }

            // Proof that the kill landed where it was aimed, not merely near it.
            var at = step?.Replace("open:", "", StringComparison.Ordinal);
            switch (at)
            {
                case "segment-created":
                    Assert.True(left is { SegmentTemp: true, SidecarTemp: false, NewSegmentEmpty: false }, left.ToString());
                    break;
                case "sidecar-started":
                    Assert.True(left is { SegmentTemp: false, SidecarTemp: false, LastSealedHasSidecar: false, NewSegmentEmpty: true }, left.ToString());
                    break;
                case "sidecar-half" or "sidecar-written":
                    Assert.True(left is { SegmentTemp: false, SidecarTemp: true, LastSealedHasSidecar: false, NewSegmentEmpty: true }, left.ToString());
                    Assert.Equal(at == "sidecar-written", left.SidecarTempIsWhole);
                    break;
                case "sidecar-renamed":
                    Assert.True(left is { SegmentTemp: false, SidecarTemp: false, LastSealedHasSidecar: true, NewSegmentEmpty: true }, left.ToString());
                    break;
                case "group-torn":
                    Assert.True(left is { SegmentTemp: false, SidecarTemp: false, LastSealedHasSidecar: true, NewSegmentEmpty: false, NewSegmentTorn: true }, left.ToString());
                    break;
            }

            if (step?.StartsWith("open:", StringComparison.Ordinal) == true)
            {
                Assert.Empty(acked); // stopped inside the open, before the first append
            }

            foreach (var (g, count) in acked)
            {
                expected.Add(g, count);
            }

            if (!reopen)
            {
                continue; // stopped before the group in progress was written: no unacknowledged group to look for
            }

            List<string> afterCrash;
            await using (var store = Open(verifyOnOpen: false))
            {
                await store.InitializeAsync();
                Assert.Empty(Leftovers());
                Assert.Equal(left.SidecarsOfSealed, store.SegmentsIndexedFromSidecars); // every sidecar that survived is used
                Assert.All(Sealed(), segment => Assert.True(System.IO.File.Exists(segment + ".idx"), $"{segment} has no sidecar after the open"));
                await store.Verification.WaitAsync(Wait);
                Assert.Empty(store.DamagedSegments);

                var unacknowledged = await CheckGroupsAsync(store, expected, inProgress: first + acked.Count);
                if (unacknowledged is { } extra)
                {
                    expected.Add(extra.Group, extra.Count); // fsynced, killed before it printed: it is part of the journal now
                }

                await AssertTheNewestIdsAreKnownAsync(store);
                var g = expected.Keys.Max() + 1;
                Assert.Equal(3, (await store.AppendAsync(ProbeGroup(g, 3))).Appended);
                expected.Add(g, 3);
                await CheckGroupsAsync(store, expected, inProgress: null);
                afterCrash = await DescribeAsync(store);
            }

            // Now every sealed segment has its sidecar: the second open reads them all, and reads what the first did.
            await using (var store = Open(verifyOnOpen: false))
            {
                await store.InitializeAsync();
                Assert.Equal(store.SegmentCount - 1, store.SegmentsIndexedFromSidecars);
                await store.Verification.WaitAsync(Wait);
                Assert.Empty(store.DamagedSegments);
                Assert.Equal(afterCrash, await DescribeAsync(store));
                await AssertTheNewestIdsAreKnownAsync(store);
            }

            await using (var store = Open(verifyOnOpen: true))
            {
                await store.InitializeAsync();
                Assert.Equal(0, store.SegmentsIndexedFromSidecars);
                Assert.Equal(afterCrash, await DescribeAsync(store));
                await AssertTheNewestIdsAreKnownAsync(store);
            }

            Assert.Empty(Leftovers());
        }

        output.WriteLine(
            $"{Kills.Length} kills, {inRollOver} in a roll-over; of the {unplanned.Count} not aimed at a step, {unplanned.Count(l => l.InRollOver)}: " +
            $"{unplanned.Count(l => l.SegmentTemp)} left a .seg.tmp, {unplanned.Count(l => l.SidecarTemp)} an .idx.tmp, " +
            $"{unplanned.Count(l => !l.LastSealedHasSidecar)} a sealed segment without sidecar, {unplanned.Count(l => l.NewSegmentEmpty)} a new segment without a group, " +
            $"{unplanned.Count(l => l.NewSegmentTorn)} a new segment's first group torn; " +
            $"{expected.Count} groups, {Sealed().Length + 1} segments");
    }

    /// <summary>
    /// Runs the probe from group <paramref name="first"/>, kills it as planned; the groups it acknowledged. While it is
    /// stopped at a step, a read-only reader beside it (as the replay tool opens a node's journal) sees exactly the
    /// groups acknowledged so far, <paramref name="before"/> and this run's.
    /// </summary>
    private async Task<SortedDictionary<long, int>> RunAndKillAsync(long first, string? step, int n, SortedDictionary<long, int> before)
    {
        var acked = new Dictionary<long, int>();
        // At most 50 groups past the aim (a roll-over every second or third group, so a paused step is reached long
        // before): should this process be slowed down before its kill, the probe waits rather than fill the disk.
        var pauseAt = step is null ? null : step.StartsWith("open:", StringComparison.Ordinal) ? $"{step[5..]}:{n}:open" : $"{step}:{n}";
        using var process = CrashProbe.Start(_folder, SegmentSize, first, first + n + 50, pauseAt);
        try
        {
            var stderr = process.StandardError.ReadToEndAsync();
            while (step is not null || acked.Count < n)
            {
                var line = await process.StandardOutput.ReadLineAsync().WaitAsync(Wait)
                    ?? throw new InvalidOperationException("the probe exited early: " + await stderr);
                if (line.StartsWith("PAUSED ", StringComparison.Ordinal))
                {
                    Assert.Equal("PAUSED " + step?.Replace("open:", "", StringComparison.Ordinal), line);
                    await using var reader = FileEventStore.OpenReadOnly(Options(verifyOnOpen: false), TimeProvider.System, NullLogger<FileEventStore>.Instance);
                    await reader.InitializeAsync();
                    var all = new SortedDictionary<long, int>(before);
                    foreach (var (g, count) in acked)
                    {
                        all.Add(g, count);
                    }

                    Assert.Null(await CheckGroupsAsync(reader, all, inProgress: null));
                    break;
                }

                CrashProbe.Record(line, acked);
            }

            process.Kill(); // SIGKILL on Linux: no flush, no finally
            await process.WaitForExitAsync().WaitAsync(Wait);

            // Acknowledgements already in the pipe were printed after their fsync: they count too.
            while (await process.StandardOutput.ReadLineAsync().WaitAsync(Wait) is { } line)
            {
                CrashProbe.Record(line, acked);
            }
        }
        finally
        {
            if (!process.HasExited)
            {
                process.Kill();
            }
        }

        Assert.Equal(Enumerable.Range(0, acked.Count).Select(i => first + i), acked.Keys.Order());
        return new SortedDictionary<long, int>(acked);
    }

    /// <summary>
    /// Checks the journal holds exactly the <paramref name="expected"/> groups, each whole, plus at most the one group
    /// <paramref name="inProgress"/> when the kill came after its fsync (then it is whole too); returns that one.
    /// </summary>
    private static async Task<(long Group, int Count)?> CheckGroupsAsync(IEventStore store, SortedDictionary<long, int> expected, long? inProgress)
    {
        var groups = new SortedDictionary<long, List<int>>();
        var previous = 0L;
        await using (var reader = store.OpenGlobalReader(0))
        {
            while (await reader.ReadNextAsync(500).AsTask().WaitAsync(Wait) is { Count: > 0 } page)
            {
                foreach (var e in page)
                {
                    using var json = JsonDocument.Parse(e.Data);
                    var g = json.RootElement.GetProperty("g").GetInt64();
                    Assert.True(g >= previous, $"group {g} at position {e.Position} after group {previous}: groups out of order or interleaved");
                    previous = g;
                    if (!groups.TryGetValue(g, out var indexes))
                    {
                        groups[g] = indexes = [];
                    }

                    indexes.Add(json.RootElement.GetProperty("i").GetInt32());
                }
            }
        }

        foreach (var (g, count) in expected)
        {
            Assert.True(groups.TryGetValue(g, out var indexes), $"acknowledged group {g} is missing");
            Assert.Equal(Enumerable.Range(0, count), indexes.Order());
        }

        var extra = groups.Keys.Except(expected.Keys).ToList();
        if (extra.Count == 0)
        {
            return null;
        }

        Assert.Equal(inProgress, (long?)Assert.Single(extra));
        var whole = groups[extra[0]];
        Assert.Equal(Enumerable.Range(0, whole.Count), whole.Order());
        return (extra[0], whole.Count);
    }

    /// <summary>
    /// Re-sends the newest events, as a writer whose acknowledgement the kill lost would: the de-duplication window the
    /// open rebuilt (from where the last sealed segment's sidecar bounds it) holds each of their ids, so nothing is appended.
    /// </summary>
    private static async Task AssertTheNewestIdsAreKnownAsync(FileEventStore store)
    {
        var events = new List<StoredEvent>();
        await using (var reader = store.OpenGlobalReader(0))
        {
            while (await reader.ReadNextAsync(500).AsTask().WaitAsync(Wait) is { Count: > 0 } page)
            {
                events.AddRange(page);
            }
        }

        var resend = events.TakeLast(Window).GroupBy(e => e.StreamId).Select(s => new StreamAppend(
            s.Key, "crash", ExpectedVersions.Any, s.Select(e => new EventData(e.EventId, e.Type, e.SchemaVersion, e.Data, e.Timestamp)).ToList())).ToList();
        Assert.Equal(new AppendResult(AppendStatus.Committed, 0), await store.AppendAsync(resend));
        Assert.Equal(events.Count, store.LastPosition);
    }

    /// <summary>A group as the probe writes it, appended by the test between two kills.</summary>
    private static List<StreamAppend> ProbeGroup(long g, int count) =>
        Enumerable.Range(0, count)
            .GroupBy(i => Streams[i % 2])
            .Select(s => new StreamAppend(s.Key, "crash", ExpectedVersions.Any, s.Select(i => new EventData(
                Guid.NewGuid(), "crash_probe", 1, Encoding.UTF8.GetBytes($$"""{"g":{{g}},"i":{{i}}}"""), DateTimeOffset.UtcNow)).ToList()))
            .ToList();

    /// <summary>What the kill left in the folder, before anything opens it.</summary>
    private Left Observe()
    {
        var segments = Directory.GetFiles(_folder, "*.seg").Order(StringComparer.Ordinal).ToArray();
        var sealedSegments = segments[..^1];
        var last = segments[^1];
        var head = new byte[4];
        using (var file = System.IO.File.OpenRead(last))
        {
            file.ReadExactly(head);
        }

        // The new segment's checkpoint, then whether what follows it is less than the record its header announces.
        var length = new FileInfo(last).Length;
        var checkpointEnd = JournalFormat.RecordHeaderSize + BinaryPrimitives.ReadUInt32LittleEndian(head);
        var torn = false;
        if (length > checkpointEnd)
        {
            using var file = System.IO.File.OpenRead(last);
            file.Position = checkpointEnd;
            torn = length - checkpointEnd < JournalFormat.RecordHeaderSize
                || (file.ReadAtLeast(head, 4, throwOnEndOfStream: false) == 4 && length < checkpointEnd + JournalFormat.RecordHeaderSize + BinaryPrimitives.ReadUInt32LittleEndian(head));
        }

        var sidecarTemp = Directory.GetFiles(_folder, "*.seg.idx.tmp");
        return new Left(
            SegmentTemp: Directory.GetFiles(_folder, "*.seg.tmp").Length > 0,
            SidecarTemp: sidecarTemp.Length > 0,
            SidecarTempIsWhole: sidecarTemp.Length > 0 && SegmentIndexFile.TryParse(System.IO.File.ReadAllBytes(sidecarTemp[0]), out _, out _),
            LastSealedHasSidecar: sealedSegments.Length == 0 || System.IO.File.Exists(sealedSegments[^1] + ".idx"),
            NewSegmentEmpty: sealedSegments.Length > 0 && length == checkpointEnd,
            NewSegmentTorn: sealedSegments.Length > 0 && torn,
            SidecarsOfSealed: sealedSegments.Count(s => System.IO.File.Exists(s + ".idx")));
    }

    private string[] Sealed() => Directory.GetFiles(_folder, "*.seg").Order(StringComparer.Ordinal).SkipLast(1).ToArray();

    /// <summary>Files that are neither a segment, a sidecar nor the lock.</summary>
    private string[] Leftovers() =>
        Directory.GetFiles(_folder)
            .Select(f => Path.GetFileName(f))
            .Where(f => !f.EndsWith(".seg", StringComparison.Ordinal) && !f.EndsWith(".seg.idx", StringComparison.Ordinal) && f != "journal.lock")
            .ToArray();

    private FileEventStore Open(bool verifyOnOpen) => new(Options(verifyOnOpen), TimeProvider.System, NullLogger<FileEventStore>.Instance);

    private FileJournalOptions Options(bool verifyOnOpen) =>
        new() { Path = _folder, SegmentSizeBytes = SegmentSize, VerifyOnOpen = verifyOnOpen, DeduplicationWindowEvents = Window };

    /// <summary>Everything a reader can see: every stream read each way, and the global read.</summary>
    private static async Task<List<string>> DescribeAsync(FileEventStore store)
    {
        static string Line(StoredEvent e) =>
            $"{e.Position} {e.StreamId} v{e.Version} {e.EventId} {e.Type} {e.SchemaVersion} {e.Timestamp.ToUnixTimeMilliseconds()} {Encoding.UTF8.GetString(e.Data.Span)}";

        var lines = new List<string> { $"last {store.LastPosition} {await store.GetLastPositionAsync()} segments {store.SegmentCount}" };
        foreach (var stream in Streams)
        {
            lines.Add($"{stream} v{await store.GetStreamVersionAsync(stream)}");
            lines.AddRange((await store.ReadStreamAsync(stream, 1, 100_000)).Select(Line));
            lines.AddRange((await store.ReadStreamBackwardAsync(stream, 3)).Select(Line));
        }

        await using var reader = store.OpenGlobalReader(0);
        while (await reader.ReadNextAsync(500).AsTask().WaitAsync(Wait) is { Count: > 0 } page)
        {
            lines.AddRange(page.Select(Line));
        }

        return lines;
    }

    /// <summary>
    /// What a kill left: a temporary segment or sidecar (and whether that sidecar is whole), whether the newest sealed
    /// segment has its sidecar, whether the newest segment holds its checkpoint only (rolled over, no group in it yet) or
    /// a torn first group after it (the roll-over done, the group's write cut), and how many sealed segments have a sidecar.
    /// </summary>
    private readonly record struct Left(bool SegmentTemp, bool SidecarTemp, bool SidecarTempIsWhole, bool LastSealedHasSidecar, bool NewSegmentEmpty, bool NewSegmentTorn, int SidecarsOfSealed)
    {
        public bool InRollOver => SegmentTemp || SidecarTemp || !LastSealedHasSidecar || NewSegmentEmpty;
    }
}
