using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Win32.SafeHandles;
using SignalStream.EventStore.File;
using static SignalStream.EventStore.Tests.TestEvents;

namespace SignalStream.EventStore.Tests.File;

/// <summary>
/// A full disk (through the journal's file seam, <see cref="JournalFiles"/>), and damage found at open: only an
/// unfinished last record is a torn tail; a bad record with valid records after it is corruption.
/// </summary>
public sealed class FileJournalFaultTests : IDisposable
{
    private const long SegmentSize = 64 * 1024;
    private readonly string _folder = TestStorage.NewTempFolder();

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    [Fact]
    public async Task ADiskFullDuringARollOverLeavesNoHalfMadeSegmentAndTheRetrySucceedsOnceThereIsRoom()
    {
        var disk = new FullableDisk();
        var ids = new List<Guid>();
        await using (var store = Open(disk))
        {
            await store.InitializeAsync();

            // Fill the first segment, then let the disk run full for new files only: the next roll-over fails.
            disk.FullForNewFiles = true;
            EventData pending;
            while (true)
            {
                // ~30 such groups fill a 64 KB segment: a roll-over must have been tried long before 200.
                Assert.True(ids.Count < 200, "no roll-over was attempted");
                pending = Event(payload: Payload(2000));
                try
                {
                    await store.AppendAsync([Append("big", ExpectedVersions.Any, pending)]);
                    ids.Add(pending.EventId);
                }
                catch (IOException)
                {
                    break;
                }
            }

            Assert.Equal(1, store.SegmentCount);
            for (var retry = 0; retry < 3; retry++)
            {
                await Assert.ThrowsAsync<IOException>(() => store.AppendAsync([Append("big", ExpectedVersions.Any, pending)]).AsTask());
                Assert.Single(Directory.GetFiles(_folder, "*.seg"));
                Assert.Empty(Directory.GetFiles(_folder, "*.tmp"));
            }

            // Space is back: the same group (same id) goes through without a restart, in a new segment.
            disk.FullForNewFiles = false;
            Assert.Equal(1, (await store.AppendAsync([Append("big", ExpectedVersions.Any, pending)])).Appended);
            ids.Add(pending.EventId);
            Assert.Equal(2, store.SegmentCount);
            var more = Event(payload: Payload(2000));
            await store.AppendAsync([Append("big", ExpectedVersions.Any, more)]);
            ids.Add(more.EventId);
        }

        await using var reopened = Open(JournalFiles.Os);
        await reopened.InitializeAsync();
        Assert.Equal(ids, (await reopened.ReadStreamAsync("big", 1, 1000)).Select(e => e.EventId));
    }

    [Fact]
    public async Task ADiskFullHalfwayThroughAGroupLeavesNothingOfItAndTheRetrySucceeds()
    {
        var disk = new FullableDisk();
        await using (var store = Open(disk))
        {
            await store.InitializeAsync();
            await store.AppendAsync([Append("s", ExpectedVersions.Any, Event())]);

            disk.FullAfterHalfOfTheNextWrite = true;
            var group = Event(payload: Payload(3000));
            await Assert.ThrowsAsync<IOException>(() => store.AppendAsync([Append("s", ExpectedVersions.Any, group)]).AsTask());
            Assert.Equal(1, await store.GetStreamVersionAsync("s"));

            Assert.Equal(1, (await store.AppendAsync([Append("s", ExpectedVersions.Any, group)])).Appended);
        }

        await using var reopened = Open(JournalFiles.Os);
        await reopened.InitializeAsync();
        Assert.Equal(2, await reopened.GetStreamVersionAsync("s"));
    }

    [Fact]
    public async Task ABadRecordFollowedByValidRecordsStopsTheOpenWithTheFileAndOffsetAndTruncatesNothing()
    {
        var offsets = await WriteGroupsAsync(10);
        var segment = Directory.GetFiles(_folder, "*.seg").Single();
        var bytes = await System.IO.File.ReadAllBytesAsync(segment);
        var damaged = offsets[4];
        bytes[damaged + 20] ^= 0xFF; // inside the fifth group's payload: its checksum fails, groups 6–10 are intact
        await System.IO.File.WriteAllBytesAsync(segment, bytes);

        await using var store = Open(JournalFiles.Os);
        var error = await Assert.ThrowsAsync<InvalidDataException>(() => store.InitializeAsync().AsTask());

        Assert.Contains($"'{segment}' is corrupt at byte {damaged}:", error.Message, StringComparison.Ordinal);
        Assert.Contains($"a valid record follows at byte {offsets[5]}", error.Message, StringComparison.Ordinal);
        Assert.Equal(bytes.Length, new FileInfo(segment).Length);
    }

    [Fact]
    public async Task ADamagedLengthFollowedByValidRecordsIsCorruptionToo()
    {
        var offsets = await WriteGroupsAsync(10);
        var segment = Directory.GetFiles(_folder, "*.seg").Single();
        var bytes = await System.IO.File.ReadAllBytesAsync(segment);
        bytes[offsets[7] + 3] = 0x7F; // the eighth record now claims ~2 GB
        await System.IO.File.WriteAllBytesAsync(segment, bytes);

        await using var store = Open(JournalFiles.Os);
        var error = await Assert.ThrowsAsync<InvalidDataException>(() => store.InitializeAsync().AsTask());
        Assert.Contains($"is corrupt at byte {offsets[7]}:", error.Message, StringComparison.Ordinal);
        Assert.Equal(bytes.Length, new FileInfo(segment).Length);
    }

    [Fact]
    public async Task ATailOfZerosAfterTheLastRecordIsATornTailAndIsCut()
    {
        var offsets = await WriteGroupsAsync(5);
        var segment = Directory.GetFiles(_folder, "*.seg").Single();
        var validLength = new FileInfo(segment).Length;

        // What a power loss can leave: the file grew, its last pages never reached the disk.
        await using (var file = new FileStream(segment, FileMode.Append))
        {
            file.Write(new byte[8192]);
        }

        await using var store = Open(JournalFiles.Os);
        await store.InitializeAsync();
        Assert.Equal(validLength, new FileInfo(segment).Length);
        Assert.Equal(5, await store.GetLastPositionAsync());
        Assert.Equal(5, offsets.Count);
    }

    private FileEventStore Open(JournalFiles files) =>
        new(new FileJournalOptions { Path = _folder, SegmentSizeBytes = SegmentSize }, TimeProvider.System, NullLogger<FileEventStore>.Instance, files, readOnly: false);

    /// <summary>Appends one single-event group at a time; returns each group record's offset in the segment.</summary>
    private async Task<List<long>> WriteGroupsAsync(int groups)
    {
        var offsets = new List<long>();
        await using var store = Open(JournalFiles.Os);
        await store.InitializeAsync();
        var segment = Directory.GetFiles(_folder, "*.seg").Single();
        for (var i = 0; i < groups; i++)
        {
            offsets.Add(new FileInfo(segment).Length);
            await store.AppendAsync([Append("s", ExpectedVersions.Any, Event(payload: Payload(100)))]);
        }

        return offsets;
    }

    private static string Payload(int size) => $$"""{"pad":"{{new string('x', size)}}"}""";

    /// <summary>The OS's file calls, except that writes fail with "no space left" when told to, as a full disk does.</summary>
    private sealed class FullableDisk : JournalFiles
    {
        private readonly HashSet<SafeFileHandle> _newFiles = [];

        /// <summary>Creating a file still works (an inode is free), writing into a new file does not.</summary>
        public bool FullForNewFiles { get; set; }

        /// <summary>The next write puts half its bytes on disk, then fails.</summary>
        public bool FullAfterHalfOfTheNextWrite { get; set; }

        public override SafeFileHandle Create(string path)
        {
            var handle = base.Create(path);
            if (FullForNewFiles)
            {
                _newFiles.Add(handle);
            }

            return handle;
        }

        public override void Write(SafeFileHandle handle, ReadOnlySpan<byte> bytes, long offset)
        {
            if (FullForNewFiles && _newFiles.Contains(handle))
            {
                throw new IOException("No space left on device (simulated)");
            }

            if (FullAfterHalfOfTheNextWrite)
            {
                FullAfterHalfOfTheNextWrite = false;
                base.Write(handle, bytes[..(bytes.Length / 2)], offset);
                throw new IOException("No space left on device (simulated)");
            }

            base.Write(handle, bytes, offset);
        }
    }
}
