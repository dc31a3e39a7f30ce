using System.Diagnostics;
using System.Globalization;
using Microsoft.Extensions.Logging.Abstractions;
using SignalStream.EventStore;
using SignalStream.EventStore.File;
using SignalStream.EventStore.File.Internal;

namespace SignalStream.Benchmarks.Events;

/// <summary>
/// What the file journal keeps in memory per retained event (its index: per-position locations, event ids, per-stream
/// positions), as the managed heap's growth while events are appended: a one-shot measurement, not a BenchmarkDotNet
/// suite (the memory diagnoser counts allocations, not what stays). <c>journal-memory [events]</c>.
/// </summary>
internal static class FileJournalMemoryProbe
{
    public static async Task<int> RunAsync(string[] args)
    {
        var events = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 1_000_000;
        const int PerGroup = 1_000, Streams = 2_000;
        var folder = Directory.CreateTempSubdirectory("signalstream-journal-memory-").FullName;
        try
        {
            await using var store = new FileEventStore(new FileJournalOptions { Path = folder }, TimeProvider.System, NullLogger<FileEventStore>.Instance);
            await store.InitializeAsync().ConfigureAwait(false);
            var data = new byte[200];
            long before = 0, middle = 0, allocated = 0;
            var warm = events / 10;
            var half = events / 2;
            for (var written = 0; written < events; written += PerGroup)
            {
                var group = new List<EventData>(PerGroup);
                for (var i = 0; i < PerGroup; i++)
                {
                    group.Add(new EventData(Guid.CreateVersion7(), "candle_closed", 1, data, DateTimeOffset.UtcNow));
                }

                StreamAppend[] append = [new StreamAppend($"candles-S{written / PerGroup % Streams}-1m", "candles", ExpectedVersions.Any, group)];
                var allocatedBefore = GC.GetTotalAllocatedBytes(precise: true);
                await store.AppendAsync(append).ConfigureAwait(false);
                allocated += GC.GetTotalAllocatedBytes(precise: true) - allocatedBefore;
                if (written + PerGroup == warm)
                {
                    before = Settle();
                }

                if (written + PerGroup == half)
                {
                    middle = Settle();
                }

                if ((written + PerGroup) % 100_000 == 0)
                {
                    Console.Error.Write($"\r{written + PerGroup:N0} events appended");
                }
            }

            var after = Settle();
            Console.Error.WriteLine();
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{(after - before) / (double)(events - warm):0.0} bytes of managed heap per retained event ({events - warm:N0} events after {warm:N0} to warm up; heap {after / 1048576.0:0} MB)"));

            // The de-duplication window (a bounded set of the newest ids) fills over its first events, then stays: the
            // second half shows the growth that does not stop once it is full (when the run is longer than the window).
            var window = FileJournalOptions.DefaultDeduplicationWindowEvents;
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{(after - middle) / (double)(events - half):0.0} bytes per retained event over the second half ({events - half:N0} events after {half:N0}; the de-duplication window holds {window:N0} ids{(half >= window ? ", full before the half" : ", NOT full before the half: use more events")})"));

            // The hot path: what an append allocates, the index's growth included (it completes synchronously, so the
            // process's count around it is the append's).
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"appends allocated {allocated / (double)events:0.0} bytes per event"));

            // Every start re-reads the journal (recovery rebuilds the index): how long that takes, and what it keeps.
            await store.DisposeAsync().ConfigureAwait(false);
            var closed = Settle();
            var clock = Stopwatch.StartNew();
            await using var reopened = new FileEventStore(new FileJournalOptions { Path = folder }, TimeProvider.System, NullLogger<FileEventStore>.Instance);
            await reopened.InitializeAsync().ConfigureAwait(false);
            var opened = clock.Elapsed;
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"reopen: {opened.TotalMilliseconds:0} ms to recover {reopened.LastPosition:N0} events; the index it rebuilt holds {(Settle() - closed) / (double)events:0.0} bytes per event"));
            await ReportSidecarsAsync(folder, reopened, clock).ConfigureAwait(false);
            await reopened.DisposeAsync().ConfigureAwait(false);

            // The same journal opened as before sidecars (every segment scanned), and both opens with the journal's files
            // dropped from the page cache (what a restart after a while finds; the numbers above had it warm).
            var scanned = await TimeOpenAsync(folder, verifyOnOpen: true, cold: false).ConfigureAwait(false);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"reopen, Storage:File:VerifyOnOpen=true (every segment scanned): {scanned:0} ms"));

            // What a start does next: the projector reads every event from the journal's beginning. From sidecars, each
            // sealed segment the background has not compared yet is compared as the read reaches it.
            var catchUpSidecars = await TimeOpenAndCatchUpAsync(folder, verifyOnOpen: false).ConfigureAwait(false);
            var catchUpScanned = await TimeOpenAndCatchUpAsync(folder, verifyOnOpen: true).ConfigureAwait(false);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"reopen and the projector's read of every event: {catchUpSidecars.Open:0} + {catchUpSidecars.Read:0} ms from sidecars (segments compared as the read reaches them), {catchUpScanned.Open:0} + {catchUpScanned.Read:0} ms with VerifyOnOpen=true"));
            var coldSidecars = await TimeOpenAsync(folder, verifyOnOpen: false, cold: true).ConfigureAwait(false);
            var coldScanned = await TimeOpenAsync(folder, verifyOnOpen: true, cold: true).ConfigureAwait(false);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"reopen, page cache dropped for the journal's files: {coldSidecars:0} ms from sidecars, {coldScanned:0} ms with VerifyOnOpen=true"));
            return 0;
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    private static async Task ReportSidecarsAsync(string folder, FileEventStore reopened, Stopwatch clock)
    {
        long sidecarBytes = 0, sidecarEvents = 0;
        foreach (var path in Directory.GetFiles(folder, "*" + SegmentIndexFile.Suffix))
        {
            var bytes = await System.IO.File.ReadAllBytesAsync(path).ConfigureAwait(false);
            if (SegmentIndexFile.TryParse(bytes, out var index, out _))
            {
                sidecarBytes += bytes.Length;
                sidecarEvents += index!.Offsets.Length;
            }
        }

        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"sidecars: {reopened.SegmentsIndexedFromSidecars} of {reopened.SegmentCount} segments opened from them, {sidecarBytes / (double)Math.Max(1, sidecarEvents):0.0} bytes per event ({sidecarBytes / 1048576.0:0.0} MB for {sidecarEvents:N0} events)"));
        clock.Restart();
        await reopened.Verification.ConfigureAwait(false);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"background verification of the sealed segments done {clock.Elapsed.TotalSeconds:0.0} s after the open returned, {reopened.DamagedSegments.Count} damaged (its I/O is capped at 64 MiB/s)"));
    }

    private static async Task<double> TimeOpenAsync(string folder, bool verifyOnOpen, bool cold)
    {
        if (cold)
        {
            foreach (var path in Directory.GetFiles(folder))
            {
                // posix_fadvise(DONTNEED) on this file only: the rest of the (shared) machine's cache is left alone.
                using var dd = Process.Start(new ProcessStartInfo("dd", ["if=" + path, "iflag=nocache", "count=0", "status=none"]))!;
                await dd.WaitForExitAsync().ConfigureAwait(false);
            }
        }

        var clock = Stopwatch.StartNew();
        await using var store = new FileEventStore(new FileJournalOptions { Path = folder, VerifyOnOpen = verifyOnOpen }, TimeProvider.System, NullLogger<FileEventStore>.Instance);
        await store.InitializeAsync().ConfigureAwait(false);
        return clock.Elapsed.TotalMilliseconds;
    }

    private static async Task<(double Open, double Read)> TimeOpenAndCatchUpAsync(string folder, bool verifyOnOpen)
    {
        var clock = Stopwatch.StartNew();
        await using var store = new FileEventStore(new FileJournalOptions { Path = folder, VerifyOnOpen = verifyOnOpen }, TimeProvider.System, NullLogger<FileEventStore>.Instance);
        await store.InitializeAsync().ConfigureAwait(false);
        var opened = clock.Elapsed.TotalMilliseconds;
        clock.Restart();
        await using var reader = store.OpenGlobalReader(0, ["signal_issued", "signal_resolved"]);
        while ((await reader.ReadNextAsync(2000).ConfigureAwait(false)).Count > 0)
        {
        }

        return (opened, clock.Elapsed.TotalMilliseconds);
    }

    private static long Settle()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        return GC.GetTotalMemory(forceFullCollection: true);
    }
}
