using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Win32.SafeHandles;
using SignalStream.EventStore.File;
using static SignalStream.EventStore.Tests.TestEvents;

namespace SignalStream.EventStore.Tests.File;

/// <summary>
/// Appends that queue behind one waiting for its fsync share the next fsync (the event writer's lanes, BENCHMARKS.md
/// "Where a bell signal's time goes"), and each keeps its own result and its durability.
/// </summary>
public sealed class FileJournalGroupCommitTests : IDisposable
{
    private readonly string _folder = TestStorage.NewTempFolder();

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    [Fact]
    public async Task AppendsQueuedBehindAnFsyncShareTheNextOneAndAreEachDurable()
    {
        using var disk = new HeldFlushDisk();
        var a = Event();
        var b = Events(3);
        var c = Events(2);
        await using (var store = Open(disk))
        {
            await store.InitializeAsync();
            await store.AppendAsync([Append("x", ExpectedVersions.Any, Event())]);

            disk.HoldNextFlush();
            var first = Task.Run(() => store.AppendAsync([Append("a", 0, a)]).AsTask());
            Assert.True(disk.FlushEntered.Wait(Wait));
            var flushesBefore = disk.Flushes;

            // Queued while the first waits for its fsync (another lane each, as the event writer does).
            var second = store.AppendAsync([Append("b", 0, b)]).AsTask();
            var third = store.AppendAsync([Append("c", ExpectedVersions.Any, c)]).AsTask();
            Assert.False(second.IsCompleted);
            disk.ReleaseFlush();

            Assert.Equal(1, (await first.WaitAsync(Wait)).Appended);
            Assert.Equal(new AppendResult(AppendStatus.Committed, 3), await second.WaitAsync(Wait));
            Assert.Equal(new AppendResult(AppendStatus.Committed, 2), await third.WaitAsync(Wait));

            // The first group's fsync, then one for the two that queued behind it (not one each).
            Assert.Equal(2, disk.Flushes - flushesBefore);
        }

        await using var reopened = Open(JournalFiles.Os);
        await reopened.InitializeAsync();
        Assert.Equal([a.EventId], (await reopened.ReadStreamAsync("a", 1, 10)).Select(e => e.EventId));
        Assert.Equal(b.Select(e => e.EventId), (await reopened.ReadStreamAsync("b", 1, 10)).Select(e => e.EventId));
        Assert.Equal(c.Select(e => e.EventId), (await reopened.ReadStreamAsync("c", 1, 10)).Select(e => e.EventId));
        Assert.Equal(3, (await reopened.ReadStreamAsync("b", 1, 10))[^1].Version);
    }

    [Fact]
    public async Task AGroupWithAWrongExpectedVersionIsRefusedAloneAndTheOthersInTheSameFsyncAreCommitted()
    {
        using var disk = new HeldFlushDisk();
        var good = Events(2);
        var sameStreamNext = Event();
        await using (var store = Open(disk))
        {
            await store.InitializeAsync();
            await store.AppendAsync([Append("s", ExpectedVersions.Any, Event())]);

            disk.HoldNextFlush();
            var first = Task.Run(() => store.AppendAsync([Append("x", ExpectedVersions.Any, Event())]).AsTask());
            Assert.True(disk.FlushEntered.Wait(Wait));

            var wrong = store.AppendAsync([Append("s", 5, Event())]).AsTask();
            var right = store.AppendAsync([Append("s", 1, good)]).AsTask();
            var after = store.AppendAsync([Append("s", 3, sameStreamNext)]).AsTask(); // sees the group queued before it
            disk.ReleaseFlush();

            await first.WaitAsync(Wait);
            Assert.Equal(new AppendResult(AppendStatus.WrongExpectedVersion, 0, "s", 1), await wrong.WaitAsync(Wait));
            Assert.Equal(new AppendResult(AppendStatus.Committed, 2), await right.WaitAsync(Wait));
            Assert.Equal(new AppendResult(AppendStatus.Committed, 1), await after.WaitAsync(Wait));
        }

        await using var reopened = Open(JournalFiles.Os);
        await reopened.InitializeAsync();
        var events = await reopened.ReadStreamAsync("s", 1, 10);
        Assert.Equal([1L, 2, 3, 4], events.Select(e => e.Version));
        Assert.Equal(good.Select(e => e.EventId).Append(sameStreamNext.EventId), events.Skip(1).Select(e => e.EventId));
    }

    [Fact]
    public async Task AFailedWriteOfASharedRecordFailsEveryGroupInItAndEachRetryStoresItsGroupOnce()
    {
        using var disk = new HeldFlushDisk();
        var a = Events(2);
        var b = Events(3);
        await using (var store = Open(disk))
        {
            await store.InitializeAsync();
            disk.HoldNextFlush();
            var first = Task.Run(() => store.AppendAsync([Append("x", ExpectedVersions.Any, Event())]).AsTask());
            Assert.True(disk.FlushEntered.Wait(Wait));

            var second = store.AppendAsync([Append("a", 0, a)]).AsTask();
            var third = store.AppendAsync([Append("b", 0, b)]).AsTask();
            disk.FailNextFlush = true;
            disk.ReleaseFlush();

            await first.WaitAsync(Wait);
            var failures = new[]
            {
                await Assert.ThrowsAnyAsync<IOException>(() => second.WaitAsync(Wait)),
                await Assert.ThrowsAnyAsync<IOException>(() => third.WaitAsync(Wait)),
            };

            // Whichever held the gate throws the disk's own exception, the other one of its own naming the shared record.
            Assert.All(failures, f => Assert.Contains("fsync failed (simulated)", f.Message + f.InnerException?.Message, StringComparison.Ordinal));
            Assert.Equal(0, await store.GetStreamVersionAsync("a"));

            Assert.Equal(new AppendResult(AppendStatus.Committed, 2), await store.AppendAsync([Append("a", 0, a)]));
            Assert.Equal(new AppendResult(AppendStatus.Committed, 3), await store.AppendAsync([Append("b", 0, b)]));
        }

        await using var reopened = Open(JournalFiles.Os);
        await reopened.InitializeAsync();
        Assert.Equal(a.Select(e => e.EventId), (await reopened.ReadStreamAsync("a", 1, 10)).Select(e => e.EventId));
        Assert.Equal(b.Select(e => e.EventId), (await reopened.ReadStreamAsync("b", 1, 10)).Select(e => e.EventId));
    }

    [Fact]
    public async Task AnAppendCancelledWhileQueuedIsWithdrawnAndNotWritten()
    {
        using var disk = new HeldFlushDisk();
        await using var store = Open(disk);
        await store.InitializeAsync();
        disk.HoldNextFlush();
        var first = Task.Run(() => store.AppendAsync([Append("x", ExpectedVersions.Any, Event())]).AsTask());
        Assert.True(disk.FlushEntered.Wait(Wait));

        using var cancel = new CancellationTokenSource();
        var withdrawn = store.AppendAsync([Append("gone", 0, Event())], cancel.Token).AsTask();
        var kept = store.AppendAsync([Append("kept", 0, Event())]).AsTask();
        await cancel.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => withdrawn.WaitAsync(Wait));
        disk.ReleaseFlush();

        await first.WaitAsync(Wait);
        Assert.Equal(new AppendResult(AppendStatus.Committed, 1), await kept.WaitAsync(Wait));
        Assert.Equal(0, await store.GetStreamVersionAsync("gone"));
        Assert.Equal(1, await store.GetStreamVersionAsync("kept"));
    }

    private FileEventStore Open(JournalFiles files) =>
        new(new FileJournalOptions { Path = _folder }, TimeProvider.System, NullLogger<FileEventStore>.Instance, files, readOnly: false);

    /// <summary>Counts fsyncs; the next one can be held until released, as a slow disk would, or fail.</summary>
    private sealed class HeldFlushDisk : JournalFiles, IDisposable
    {
        private readonly ManualResetEventSlim _release = new(true);
        private int _flushes;
        private volatile bool _hold;

        public ManualResetEventSlim FlushEntered { get; } = new(false);

        public int Flushes => Volatile.Read(ref _flushes);

        /// <summary>The next fsync after a held one throws, as a failing disk's does.</summary>
        public bool FailNextFlush { get; set; }

        public void HoldNextFlush()
        {
            _release.Reset();
            FlushEntered.Reset();
            _hold = true;
        }

        public void ReleaseFlush() => _release.Set();

        public void Dispose()
        {
            _release.Dispose();
            FlushEntered.Dispose();
        }

        public override void Flush(SafeFileHandle handle)
        {
            if (_hold)
            {
                _hold = false;
                FlushEntered.Set();
                _release.Wait(Wait);
            }
            else if (FailNextFlush)
            {
                FailNextFlush = false;
                throw new IOException("fsync failed (simulated)");
            }

            Interlocked.Increment(ref _flushes);
            base.Flush(handle);
        }
    }
}
