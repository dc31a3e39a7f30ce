using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Win32.SafeHandles;
using SignalStream.EventStore.File;
using Xunit.Abstractions;
using static SignalStream.EventStore.Tests.TestEvents;

namespace SignalStream.EventStore.Tests.File;

/// <summary>
/// A power cut, which a SIGKILL cannot show (the page cache survives a killed process): the journal's file operations
/// are recorded, and the folder as a disk could hold it after a cut at any operation is rebuilt — what was fsynced for
/// certain, plus any of what was not (each write whole, torn anywhere or lost), under the names the folder's last fsync
/// made durable or the later ones too — then opened. Every acknowledged group must be there, whole and in order.
/// </summary>
public sealed class FileJournalPowerCutTests(ITestOutputHelper output) : IDisposable
{
    private const long SegmentSize = 64 * 1024;
    private const int Trials = 40;
    private readonly List<string> _folders = [];

    public void Dispose()
    {
        foreach (var folder in _folders)
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task APowerCutAtAnyFileOperationLosesNoAcknowledgedGroup(bool retention)
    {
        var cutsInRollOver = 0;
        for (var trial = 0; trial < Trials; trial++)
        {
            var random = new Random(trial);
            var disk = new RecordedDisk(cutAt: random.Next(1, 400), random);
            var folder = NewFolder();
            var acknowledged = new List<Guid>();
            var inFlight = new List<Guid>();
            await using (var store = new FileEventStore(Options(folder, retention), TimeProvider.System, NullLogger<FileEventStore>.Instance, disk, readOnly: false))
            {
                await store.InitializeAsync();
                for (var g = 0; disk.Cut is null && g < 200; g++)
                {
                    var events = Enumerable.Range(0, random.Next(1, 4)).Select(_ => Event(payload: Payload(random.Next(10, 3000)))).ToArray();
                    inFlight = events.Select(e => e.EventId).ToList();
                    await store.AppendAsync([Append($"s-{random.Next(4)}", ExpectedVersions.Any, events)]);
                    if (retention)
                    {
                        store.ReleaseUpTo(store.LastPosition); // consumed: retention may delete any sealed segment
                    }

                    if (disk.Cut is null)
                    {
                        acknowledged.AddRange(inFlight); // acknowledged before the power went
                        inFlight = [];
                    }
                }
            }

            Assert.NotNull(disk.Cut);
            cutsInRollOver += disk.CutInRollOver ? 1 : 0;
            var restored = NewFolder();
            disk.Cut.WriteTo(restored);

            await using var reopened = new FileEventStore(Options(restored, retention), TimeProvider.System, NullLogger<FileEventStore>.Instance);
            await reopened.InitializeAsync();
            var read = await ReadAllIdsAsync(reopened);
            var context = $"trial {trial}: cut at operation {disk.Cut.Operation} ({disk.Cut.Description}), {acknowledged.Count} events acknowledged";

            // With retention, the oldest segments may be gone (their events were consumed), nothing after them.
            var kept = retention && read.Count > 0 ? Math.Max(0, acknowledged.IndexOf(read[0])) : 0;
            Assert.True(read.Count >= acknowledged.Count - kept, $"{context}, {read.Count} found");
            Assert.Equal(acknowledged.Skip(kept), read.Take(acknowledged.Count - kept));
            var extra = read.Skip(acknowledged.Count - kept).ToList();
            Assert.True(extra.Count == 0 || extra.SequenceEqual(inFlight), $"{context}: {extra.Count} events beyond them, not the group in flight whole");

            var after = Event();
            Assert.Equal(1, (await reopened.AppendAsync([Append("after-cut", ExpectedVersions.Any, after)])).Appended);
        }

        output.WriteLine($"{cutsInRollOver} of {Trials} cuts fell inside a roll-over or a retention (a segment or sidecar created, renamed or deleted, not yet durable)");
    }

    private static FileJournalOptions Options(string folder, bool retention) =>
        new() { Path = folder, SegmentSizeBytes = SegmentSize, RetentionMaxSegments = retention ? 2 : 0 };

    private static string Payload(int size) => $$"""{"pad":"{{new string('x', size)}}"}""";

    private string NewFolder()
    {
        var folder = TestStorage.NewTempFolder();
        _folders.Add(folder);
        return folder;
    }


    /// <summary>
    /// The journal's files as a disk holds them through a power cut: a file's bytes are durable once fsynced, a name once
    /// its folder is fsynced. Writes since a file's last fsync may have reached the disk in any combination, each whole,
    /// torn anywhere or not at all; renames and deletes since the folder's last fsync all or none (a simplification: a
    /// file system may keep some of them).
    /// </summary>
    private sealed class RecordedDisk(int cutAt, Random random) : JournalFiles
    {
        private readonly Dictionary<SafeFileHandle, Inode> _open = [];
        private readonly Dictionary<string, Inode> _names = [];
        private Dictionary<string, Inode> _durableNames = [];
        private int _operations;

        public PowerCut? Cut { get; private set; }

        /// <summary>Whether the cut came with a segment or sidecar created, renamed or deleted and its name not yet durable.</summary>
        public bool CutInRollOver { get; private set; }

        public override SafeFileHandle Create(string path)
        {
            Operation($"create {Path.GetFileName(path)}");
            var handle = base.Create(path);
            _open[handle] = _names[Path.GetFileName(path)] = new Inode();
            return handle;
        }

        public override void Write(SafeFileHandle handle, ReadOnlySpan<byte> bytes, long offset)
        {
            Operation("write");
            base.Write(handle, bytes, offset);
            if (_open.TryGetValue(handle, out var inode))
            {
                inode.Pending.Add((offset, bytes.ToArray()));
            }
        }

        public override void Flush(SafeFileHandle handle)
        {
            Operation("fsync a file");
            base.Flush(handle);
            if (_open.TryGetValue(handle, out var inode))
            {
                inode.Durable = inode.Apply(bytes => bytes.Length);
                inode.Pending.Clear();
            }
        }

        public override void Truncate(SafeFileHandle handle, long length)
        {
            Operation("truncate");
            base.Truncate(handle, length);
            if (_open.TryGetValue(handle, out var inode))
            {
                inode.Durable = inode.Apply(bytes => bytes.Length)[..(int)Math.Min(length, int.MaxValue)];
                inode.Pending.Clear();
            }
        }

        public override void Delete(string path)
        {
            Operation($"delete {Path.GetFileName(path)}");
            base.Delete(path);
            _names.Remove(Path.GetFileName(path));
        }

        public override void Rename(string from, string to)
        {
            Operation($"rename {Path.GetFileName(from)}");
            base.Rename(from, to);
            if (_names.Remove(Path.GetFileName(from), out var inode))
            {
                _names[Path.GetFileName(to)] = inode;
            }
        }

        public override void FlushFolder(string folder)
        {
            Operation("fsync the folder");
            base.FlushFolder(folder);
            _durableNames = new Dictionary<string, Inode>(_names);
        }

        /// <summary>Counts an operation; at the chosen one, before it runs, the power goes: what the disk holds is kept.</summary>
        private void Operation(string description)
        {
            if (++_operations != cutAt || Cut is not null)
            {
                return;
            }

            var names = random.Next(2) == 0 ? _durableNames : _names; // renames and deletes not yet made durable: all or none
            var files = new Dictionary<string, byte[]>();
            foreach (var (name, inode) in names)
            {
                // Each write since the file's last fsync reached the disk whole, in part or not at all, in any combination.
                files[name] = inode.Apply(bytes => random.Next(3) switch { 0 => 0, 1 => random.Next(bytes.Length + 1), _ => bytes.Length });
            }

            CutInRollOver = !_names.Keys.ToHashSet().SetEquals(_durableNames.Keys) || names.Keys.Any(n => n.EndsWith(".tmp", StringComparison.Ordinal));
            Cut = new PowerCut(_operations, description, files);
        }
    }

    /// <summary>One file's bytes: those durable for certain, and the writes since its last fsync.</summary>
    private sealed class Inode
    {
        public byte[] Durable { get; set; } = [];

        public List<(long Offset, byte[] Bytes)> Pending { get; } = [];

        /// <summary>The durable bytes with the pending writes on them, in order, each as much of it as <paramref name="reached"/> says (0: none of it).</summary>
        public byte[] Apply(Func<byte[], int> reached)
        {
            var content = new List<byte>(Durable);
            foreach (var (offset, bytes) in Pending)
            {
                var length = reached(bytes);
                while (content.Count < offset + length)
                {
                    content.Add(0);
                }

                for (var b = 0; b < length; b++)
                {
                    content[(int)offset + b] = bytes[b];
                }
            }

            return [.. content];
        }
    }

    /// <summary>The folder as the disk held it when the power went.</summary>
    private sealed record PowerCut(int Operation, string Description, Dictionary<string, byte[]> Files)
    {
        public void WriteTo(string folder)
        {
            foreach (var (name, bytes) in Files)
            {
                System.IO.File.WriteAllBytes(Path.Combine(folder, name), bytes);
            }
        }
    }
}
