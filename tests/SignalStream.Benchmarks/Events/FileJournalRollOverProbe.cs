using System.Diagnostics;
using System.Globalization;
using Microsoft.Extensions.Logging.Abstractions;
using SignalStream.EventStore;
using SignalStream.EventStore.File;

namespace SignalStream.Benchmarks.Events;

/// <summary>
/// How long the file journal's appends take when one of them rolls over to a new segment, against those that do not,
/// in a fresh process (the first roll-over is the one a restarted node pays): a one-shot measurement of a rare, whole
/// operation, not a BenchmarkDotNet suite (which would run it warm, thousands of times).
/// <c>journal-rollover [streams] [segment MiB] [roll-overs]</c>.
/// </summary>
internal static class FileJournalRollOverProbe
{
    public static async Task<int> RunAsync(string[] args)
    {
        var streams = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 4_000;
        var segmentMiB = args.Length > 2 ? int.Parse(args[2], CultureInfo.InvariantCulture) : 4;
        var rollOvers = args.Length > 3 ? int.Parse(args[3], CultureInfo.InvariantCulture) : 20;
        const int PerGroup = 50;
        var folder = Directory.CreateTempSubdirectory("signalstream-journal-rollover-").FullName;
        try
        {
            var options = new FileJournalOptions { Path = folder, SegmentSizeBytes = segmentMiB * 1024L * 1024 };
            await using var store = new FileEventStore(options, TimeProvider.System, NullLogger<FileEventStore>.Instance);
            await store.InitializeAsync().ConfigureAwait(false);
            var data = new byte[300];
            var names = Enumerable.Range(0, streams).Select(i => $"candles-S{i:D5}USDT-1m").ToArray();
            var plain = new List<double>();
            var rolled = new List<double>();
            var next = 0;
            while (rolled.Count < rollOvers)
            {
                var appends = new StreamAppend[PerGroup];
                for (var i = 0; i < PerGroup; i++)
                {
                    appends[i] = new StreamAppend(names[next++ % streams], "candles", ExpectedVersions.Any,
                        [new EventData(Guid.CreateVersion7(), "candle_closed", 1, data, DateTimeOffset.UtcNow)]);
                }

                var segments = store.SegmentCount;
                var started = Stopwatch.GetTimestamp();
                await store.AppendAsync(appends).ConfigureAwait(false);
                var ms = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
                (store.SegmentCount > segments ? rolled : plain).Add(ms);
                if (store.SegmentCount > segments)
                {
                    Console.Error.Write($"\r{rolled.Count} of {rollOvers} roll-overs");
                }
            }

            Console.Error.WriteLine();
            plain.Sort();
            var later = rolled.Skip(1).Order().ToList();
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{streams} streams, {segmentMiB} MiB segments, {PerGroup} events a group: {plain.Count} appends without a roll-over p50 {plain[plain.Count / 2]:F2} ms, p99 {plain[plain.Count * 99 / 100]:F2} ms; " +
                $"the first roll-over's append {rolled[0]:F2} ms; the next {later.Count}: p50 {later[later.Count / 2]:F2} ms, max {later[^1]:F2} ms"));
            Console.WriteLine("roll-overs in order (ms): " + string.Join(' ', rolled.Select(r => r.ToString("F2", CultureInfo.InvariantCulture))));
            return 0;
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }
}
