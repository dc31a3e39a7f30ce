using Microsoft.Extensions.Logging.Abstractions;
using SignalStream.Contracts;
using SignalStream.Engine.Events;
using SignalStream.EventStore.File;
using SignalStream.EventStore.Internal;
using static SignalStream.EventStore.Tests.TestEvents;

namespace SignalStream.EventStore.Tests;

/// <summary>What finding a candle page's first version costs in store reads (the answers across holes are in the contract suite too).</summary>
public sealed class CandleSeekTests : IDisposable
{
    private const string StreamId = "candles-BTCUSDT-1m";
    private const long Minute = 60_000;
    private readonly string _folder = TestStorage.NewTempFolder();

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    [Fact]
    public async Task AReaderAwayThroughNoOutageCostsTwoReadsWhateverTheStreamsLength()
    {
        await using var store = await OpenAsync();
        // An outage long ago: the stream's start does not matter to a reader who left after it.
        var openTimes = await AppendAsync(store, Enumerable.Range(0, 2000).Select(i => (long)i).Concat(Enumerable.Range(2500, 3000).Select(i => (long)i)));

        foreach (var away in new[] { 1, 2, 10, 1000, 2999 })
        {
            var (found, reads) = await CandleSeek.FirstAfterAsync(store, StreamId, Minute, openTimes[^(away + 1)], default).AsTask().WaitAsync(Wait);
            Assert.Equal(openTimes.Count - away + 1, found);
            Assert.Equal(2, reads);
        }

        Assert.Equal((0L, 1), await CandleSeek.FirstAfterAsync(store, StreamId, Minute, openTimes[^1], default).AsTask().WaitAsync(Wait));
        Assert.Equal((1L, 2), await CandleSeek.FirstAfterAsync(store, StreamId, Minute, 0, default).AsTask().WaitAsync(Wait));
    }

    [Fact]
    public async Task AnOutageWhileTheReaderWasAwayCostsABisectionOfTheBarsOfItsAbsenceOnly()
    {
        await using var store = await OpenAsync();
        var openTimes = await AppendAsync(store, Enumerable.Range(0, 100_000).Select(i => (long)i).Append(100_200).Concat(Enumerable.Range(100_201, 30).Select(i => (long)i)));

        // Away for 240 bars of time (40 stored candles and a 200-minute outage), of 100,031 stored.
        var (found, reads) = await CandleSeek.FirstAfterAsync(store, StreamId, Minute, openTimes[^41], default).AsTask().WaitAsync(Wait);

        Assert.Equal(openTimes.Count - 39, found);
        Assert.InRange(reads, 3, 2 + (int)Math.Ceiling(Math.Log2(240)));
    }

    [Fact]
    public async Task HolesEverywhereOrBarsCloserThanTheTimeframeCostAtMostOneBinarySearchMore()
    {
        // Holes of every length, and a bar length the data does not keep: every guess is read, so both cost reads, not answers.
        var random = new Random(20261207);
        var index = 0L;
        var indexes = new List<long>();
        for (var i = 0; i < 5000; i++)
        {
            index += random.Next(10) == 0 ? 1 + (long)Math.Pow(2, random.Next(20)) : 1;
            indexes.Add(index);
        }

        await using var store = await OpenAsync();
        var openTimes = await AppendAsync(store, indexes);
        var bound = 2 + (int)Math.Ceiling(Math.Log2(openTimes.Count));
        foreach (var bar in new[] { Minute, 5 * Minute, Minute / 2 })
        {
            for (var probe = 0; probe < 200; probe++)
            {
                var after = openTimes[random.Next(openTimes.Count)] - random.Next(2);
                var (found, reads) = await CandleSeek.FirstAfterAsync(store, StreamId, bar, after, default).AsTask().WaitAsync(Wait);
                Assert.Equal(openTimes.FindIndex(t => t > after) + 1, found);
                Assert.InRange(reads, 1, bound);
            }
        }
    }

    private async Task<FileEventStore> OpenAsync()
    {
        var store = new FileEventStore(new FileJournalOptions { Path = _folder }, TimeProvider.System, NullLogger<FileEventStore>.Instance);
        await store.InitializeAsync();
        return store;
    }

    private static async Task<List<long>> AppendAsync(FileEventStore store, IEnumerable<long> indexes)
    {
        var openTimes = new List<long>();
        foreach (var chunk in indexes.Chunk(1000))
        {
            var events = chunk.Select(i => TestSignals.Candle("BTCUSDT", Timeframe.OneMinute, i))
                .Select(c =>
                {
                    openTimes.Add(c.Candle.OpenTime);
                    return EventSerializer.Serialize(new CandleClosed(c.Exchange, c.Candle, c.Origin, c.EventTime, c.ReceivedAt), Guid.NewGuid(), DateTimeOffset.UnixEpoch);
                })
                .ToArray();
            await store.AppendAsync([new StreamAppend(StreamId, EventStreams.CandlesType, ExpectedVersions.Any, events)]).AsTask().WaitAsync(Wait);
        }

        return openTimes;
    }
}
