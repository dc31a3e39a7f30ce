using System.Diagnostics;
using System.Globalization;
using Microsoft.Extensions.Logging.Abstractions;
using SignalStream.Contracts;
using SignalStream.Engine.Events;
using SignalStream.EventStore;
using SignalStream.EventStore.File;
using SignalStream.EventStore.Internal;
using SignalStream.EventStore.Postgres;

namespace SignalStream.Benchmarks.Events;

/// <summary>
/// What a <c>/api/candles</c> page costs on a long candle stream with holes: the store reads that find its first version
/// (<see cref="CandleSeek"/>) beside a plain binary search over versions, and the page's wall time. A one-shot
/// measurement: <c>candle-seek [events] [file|postgres] [one gap in N an outage]</c> (postgres reads the connection string from
/// SIGNALSTREAM_TEST_POSTGRES, as the tests do, into a schema of its own that it drops after).
/// </summary>
internal static class CandleSeekProbe
{
    private const string StreamId = "candles-BTCUSDT-1m";
    private const int Seeks = 1_000;

    public static async Task<int> RunAsync(string[] args)
    {
        var events = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 1_000_000;
        var provider = args.Length > 2 ? args[2] : "file";
        var outageOneIn = args.Length > 3 ? int.Parse(args[3], CultureInfo.InvariantCulture) : 10_000;
        var folder = Directory.CreateTempSubdirectory("signalstream-candle-seek-").FullName;
        var schema = "candle_seek_" + Guid.NewGuid().ToString("N")[..8];
        Npgsql.NpgsqlDataSource? dataSource = null;
        IEventStore store;
        if (provider == "postgres")
        {
            var connection = Environment.GetEnvironmentVariable("SIGNALSTREAM_TEST_POSTGRES")
                ?? throw new InvalidOperationException("set SIGNALSTREAM_TEST_POSTGRES (scripts/test-services.sh start)");
            dataSource = EventStoreDataSource.Create(connection);
            store = new PostgresEventStore(dataSource, new PostgresStoreOptions { Schema = schema }, NullLogger<PostgresEventStore>.Instance);
        }
        else
        {
            store = new FileEventStore(new FileJournalOptions { Path = folder }, TimeProvider.System, NullLogger<FileEventStore>.Instance);
        }

        try
        {
            await store.InitializeAsync().ConfigureAwait(false);
            var openTimes = await AppendAsync(store, events, outageOneIn).ConfigureAwait(false);
            var history = new SignalHistory(store, new EventNamespace(null), NullLogger<SignalHistory>.Instance);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{provider}: {openTimes.Length:N0} closed 1m candles in one stream, one gap in {outageOneIn:N0} an outage of 2-1,000 minutes; {Seeks:N0} pages each"));
            var random = new Random(7);
            await MeasureAsync(store, history, openTimes, "anywhere in the stream", () => openTimes[random.Next(openTimes.Length - 1)] + random.Next(2)).ConfigureAwait(false);
            await MeasureAsync(store, history, openTimes, "a reader away 1-1,440 candles (a day)", () => openTimes[^(1 + random.Next(1, 1_441))]).ConfigureAwait(false);
            var caughtUp = await CandleSeek.FirstAfterAsync(store, StreamId, 60_000, openTimes[^1], default).ConfigureAwait(false);
            Console.WriteLine($"caught up (after the newest): {caughtUp.Reads} read");
            return 0;
        }
        finally
        {
            await ((IAsyncDisposable)store).DisposeAsync().ConfigureAwait(false);

            if (dataSource is not null)
            {
                await using (var drop = dataSource.CreateCommand($"DROP SCHEMA IF EXISTS {schema} CASCADE"))
                {
                    await drop.ExecuteNonQueryAsync().ConfigureAwait(false);
                }

                await dataSource.DisposeAsync().ConfigureAwait(false);
            }

            Directory.Delete(folder, recursive: true);
        }
    }

    private static async Task MeasureAsync(IEventStore store, SignalHistory history, long[] openTimes, string name, Func<long> nextAfter)
    {
        var seekReads = new List<int>(Seeks);
        var bisectReads = new List<int>(Seeks);
        var seekMs = new List<double>(Seeks);
        var bisectMs = new List<double>(Seeks);
        var pageMs = new List<double>(Seeks);
        for (var i = 0; i < Seeks; i++)
        {
            var after = nextAfter();
            var clock = Stopwatch.StartNew();
            var (version, reads) = await CandleSeek.FirstAfterAsync(store, StreamId, 60_000, after, default).ConfigureAwait(false);
            seekMs.Add(clock.Elapsed.TotalMilliseconds);
            seekReads.Add(reads);
            clock.Restart();
            var (bisected, bisections) = await BisectAsync(store, openTimes.Length, after).ConfigureAwait(false);
            bisectMs.Add(clock.Elapsed.TotalMilliseconds);
            bisectReads.Add(bisections);
            if (version != bisected)
            {
                throw new InvalidOperationException($"after {after}: the seek found version {version}, the binary search {bisected}");
            }

            clock.Restart();
            var page = await history.ReadCandlesAsync(new StreamKey("BTCUSDT", Timeframe.OneMinute), after, 100, default).ConfigureAwait(false);
            pageMs.Add(clock.Elapsed.TotalMilliseconds);
            if (page.Count == 0 || page[0].OpenTime <= after)
            {
                throw new InvalidOperationException($"after {after}: a wrong page");
            }
        }

        Console.WriteLine($"  {name}:");
        Console.WriteLine(Line("    tail guess, then bisection (CandleSeek)", seekReads, seekMs));
        Console.WriteLine(Line("    binary search over versions", bisectReads, bisectMs));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"    a page of 100 (seek + read + deserialize): p50 {Percentile(pageMs, 0.5):0.000} ms, p99 {Percentile(pageMs, 0.99):0.000} ms"));
    }

    /// <summary>Appends <paramref name="events"/> closed 1m candles; one gap in <paramref name="outageOneIn"/> is an outage of 2 to 1,000 minutes.</summary>
    private static async Task<long[]> AppendAsync(IEventStore store, int events, int outageOneIn)
    {
        var random = new Random(20261207);
        var openTimes = new long[events];
        var openTime = 1_600_000_020_000L - (1_600_000_020_000L % 60_000);
        for (var written = 0; written < events; written += 1_000)
        {
            var group = new List<EventData>(1_000);
            for (var i = written; i < Math.Min(events, written + 1_000); i++)
            {
                openTime += random.Next(outageOneIn) == 0 ? 60_000L * random.Next(2, 1_001) : 60_000L;
                openTimes[i] = openTime;
                var candle = new Candle("BTCUSDT", Timeframe.OneMinute, openTime, openTime + 59_999, 100m, 101m, 99m, 100.5m, 10m, 1000m, 5, 5m, 500m);
                group.Add(EventSerializer.Serialize(new CandleClosed("binance", candle, CandleOrigin.Live, openTime + 60_000, openTime + 60_001), Guid.CreateVersion7(), DateTimeOffset.UtcNow));
            }

            await store.AppendAsync([new StreamAppend(StreamId, EventStreams.CandlesType, ExpectedVersions.Any, group)]).ConfigureAwait(false);
            if ((written + 1_000) % 100_000 == 0)
            {
                Console.Error.Write($"\r{written + 1_000:N0} candles appended");
            }
        }

        Console.Error.WriteLine();
        return openTimes;
    }

    /// <summary>The comparison: the first version opening after <paramref name="after"/> by bisection, one event a read.</summary>
    private static async Task<(long Version, int Reads)> BisectAsync(IEventStore store, long count, long after)
    {
        long low = 1, high = count + 1;
        var reads = 0;
        while (low < high)
        {
            var middle = low + ((high - low) / 2);
            var e = (await store.ReadStreamAsync(StreamId, middle, 1).ConfigureAwait(false))[0];
            reads++;
            EventSerializer.TryDeserialize(e, out var decoded, out _);
            if (((CandleClosed)decoded!).Candle.OpenTime > after)
            {
                high = middle;
            }
            else
            {
                low = middle + 1;
            }
        }

        return (low > count ? 0 : low, reads);
    }

    private static string Line(string name, List<int> reads, List<double> ms) => string.Create(CultureInfo.InvariantCulture,
        $"{name}: reads mean {reads.Average():0.0}, max {reads.Max()}; time p50 {Percentile(ms, 0.5):0.000} ms, p99 {Percentile(ms, 0.99):0.000} ms");

    private static double Percentile(List<double> values, double p)
    {
        var sorted = values.Order().ToList();
        return sorted[Math.Min(sorted.Count - 1, (int)(p * sorted.Count))];
    }
}
