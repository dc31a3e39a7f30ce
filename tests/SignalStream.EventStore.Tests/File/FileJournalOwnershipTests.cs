using System.Diagnostics;
using System.Text.Json;
using Microsoft.Extensions.Logging.Abstractions;
using SignalStream.EventStore.File;
using Xunit.Abstractions;
using static SignalStream.EventStore.Tests.TestEvents;

namespace SignalStream.EventStore.Tests.File;

/// <summary>One process owns a journal folder; a second one is refused; a read-only reader may run beside the owner.</summary>
public sealed class FileJournalOwnershipTests(ITestOutputHelper output) : IDisposable
{
    private readonly string _folder = TestStorage.NewTempFolder();

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    [Fact]
    public async Task ASecondOwnerInTheSameProcessIsRefusedWithTheFolderAndThePidAndMayOpenOnceTheFirstHasClosed()
    {
        var first = Open();
        await first.InitializeAsync();
        await first.AppendAsync([Append("s", ExpectedVersions.Any, Event())]);

        await using var second = Open();
        var error = await Assert.ThrowsAsync<JournalLockedException>(() => second.InitializeAsync().AsTask());
        output.WriteLine(error.Message);
        Assert.Contains($"'{Path.GetFullPath(_folder)}'", error.Message, StringComparison.Ordinal);
        Assert.Contains($"process {Environment.ProcessId}", error.Message, StringComparison.Ordinal);

        await first.DisposeAsync();
        await second.InitializeAsync();
        Assert.Equal(1, await second.GetStreamVersionAsync("s"));
    }

    [Fact]
    public async Task ASecondProcessOnTheFolderIsRefusedAndTheOwnerLosesNothingAcknowledged()
    {
        var acked = new Dictionary<long, int>();
        using var owner = CrashProbe.Start(_folder);
        var ownerErrors = owner.StandardError.ReadToEndAsync();
        var ownerPid = await ReadUntilAsync(owner, "OPEN ", acked, ownerErrors);
        await ReadUntilAsync(owner, null, acked, ownerErrors, untilAcked: 50);

        // The second process: refused at open with the folder and the owner's pid, and it wrote nothing.
        using (var intruder = CrashProbe.Start(_folder))
        {
            var stderr = intruder.StandardError.ReadToEndAsync();
            var stdout = intruder.StandardOutput.ReadToEndAsync();
            await intruder.WaitForExitAsync().WaitAsync(Wait);
            var message = await stderr;
            output.WriteLine(message);
            Assert.Equal(3, intruder.ExitCode);
            Assert.Contains($"'{Path.GetFullPath(_folder)}' is in use by process {ownerPid}", message, StringComparison.Ordinal);
            Assert.DoesNotContain("ACK", await stdout, StringComparison.Ordinal);
        }

        // The owner goes on committing after the refusal, then dies mid-group.
        var before = acked.Count;
        await ReadUntilAsync(owner, null, acked, ownerErrors, untilAcked: before + 50);
        owner.Kill();
        await owner.WaitForExitAsync().WaitAsync(Wait);
        while (await owner.StandardOutput.ReadLineAsync().WaitAsync(Wait) is { } line)
        {
            CrashProbe.Record(line, acked);
        }

        await using var store = Open();
        await store.InitializeAsync();
        var groups = await CrashProbe.ReadGroupsAsync(store, Wait);
        foreach (var (g, count) in acked)
        {
            Assert.True(groups.TryGetValue(g, out var indexes), $"acknowledged group {g} is missing");
            Assert.Equal(count, indexes.Count);
        }
    }

    [Fact]
    public async Task ASecondNodeOnTheFolderIsRefusedAtStartWithTheFolderAndTheOwnersPid()
    {
        string[] storage = ["--Storage:Provider=file", "--Storage:File:Path=" + _folder];
        await using var owner = await Crash.NodeProcess.StartAsync(storage);

        var refused = await Assert.ThrowsAsync<Crash.NodeExitedException>(() => Crash.NodeProcess.StartAsync(storage));
        output.WriteLine(refused.Log);
        Assert.Equal(1, refused.ExitCode); // refused with a message, not crashed (an unhandled exception exits 134)
        Assert.Contains($"SignalStream cannot start: The event journal folder '{Path.GetFullPath(_folder)}' is in use by process {owner.Pid}", refused.Log, StringComparison.Ordinal);
        Assert.DoesNotContain("Unhandled exception", refused.Log, StringComparison.Ordinal);

        // The owner is untouched, and still holds the folder.
        Assert.True(owner.IsRunning);
        await using var third = Open();
        await Assert.ThrowsAsync<JournalLockedException>(() => third.InitializeAsync().AsTask());
    }

    [Fact]
    public async Task AReadOnlyReaderOpensBesideTheOwnerSeesWhatWasCommittedAndChangesNothing()
    {
        await using var owner = Open();
        await owner.InitializeAsync();
        for (var i = 0; i < 10; i++)
        {
            await owner.AppendAsync([Append("s", ExpectedVersions.Any, Event())]);
        }

        // What a crash mid-write leaves at the tail: the owner's next open would truncate it; a reader must not.
        var segment = Directory.GetFiles(_folder, "*.seg").Single();
        var committedLength = new FileInfo(segment).Length;

        await using (var reader = FileEventStore.OpenReadOnly(new FileJournalOptions { Path = _folder }, TimeProvider.System, NullLogger<FileEventStore>.Instance))
        {
            await reader.InitializeAsync();
            Assert.Equal(10, await reader.GetStreamVersionAsync("s"));
            Assert.Equal(10, (await reader.ReadStreamAsync("s", 1, 100)).Count);
            await Assert.ThrowsAsync<InvalidOperationException>(() => reader.AppendAsync([Append("s", ExpectedVersions.Any, Event())]).AsTask());

            // The owner is not disturbed by the reader.
            await owner.AppendAsync([Append("s", ExpectedVersions.Any, Event())]);
        }

        Assert.Equal(11, await owner.GetStreamVersionAsync("s"));
        Assert.True(new FileInfo(segment).Length > committedLength);
    }

    [Fact]
    public async Task AReadOnlyReaderLeavesAnIncompleteTailAloneAndTheOwnerTruncatesIt()
    {
        await using (var owner = Open())
        {
            await owner.InitializeAsync();
            await owner.AppendAsync([Append("s", ExpectedVersions.Any, Event())]);
        }

        var segment = Directory.GetFiles(_folder, "*.seg").Single();
        var validLength = new FileInfo(segment).Length;
        await using (var file = new FileStream(segment, FileMode.Append))
        {
            file.Write([0xE8, 0x03, 0, 0, 0x12, 0x34, 0x56, 0x78, 1, 2, 3]);
        }

        await using (var reader = FileEventStore.OpenReadOnly(new FileJournalOptions { Path = _folder }, TimeProvider.System, NullLogger<FileEventStore>.Instance))
        {
            await reader.InitializeAsync();
            Assert.Equal(1, await reader.GetStreamVersionAsync("s"));
        }

        Assert.Equal(validLength + 11, new FileInfo(segment).Length);
        await using var reopened = Open();
        await reopened.InitializeAsync();
        Assert.Equal(validLength, new FileInfo(segment).Length);
    }

    private FileEventStore Open() =>
        new(new FileJournalOptions { Path = _folder }, TimeProvider.System, NullLogger<FileEventStore>.Instance);

    /// <summary>Reads the probe's lines until one starts with <paramref name="prefix"/> (its rest returned) or enough groups are acknowledged.</summary>
    private static async Task<string> ReadUntilAsync(Process probe, string? prefix, Dictionary<long, int> acked, Task<string> stderr, int untilAcked = 0)
    {
        while (true)
        {
            var line = await probe.StandardOutput.ReadLineAsync().WaitAsync(Wait)
                ?? throw new InvalidOperationException("the probe exited early: " + await stderr);
            CrashProbe.Record(line, acked);
            if (prefix is not null && line.StartsWith(prefix, StringComparison.Ordinal))
            {
                return line[prefix.Length..];
            }

            if (prefix is null && acked.Count >= untilAcked)
            {
                return line;
            }
        }
    }
}
