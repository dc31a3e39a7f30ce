using Microsoft.Extensions.Logging.Abstractions;
using SignalStream.Contracts;
using SignalStream.Engine.Events;
using SignalStream.EventStore.File;
using SignalStream.EventStore.Internal;
using static SignalStream.EventStore.Tests.TestEvents;

namespace SignalStream.EventStore.Tests;

/// <summary>What finding a candle page's first version costs in store reads (the answers themselves are in the contract suite).</summary>
public sealed class CandleSeekTests : IDisposable
{
    private const string StreamId = "candles-BTCUSDT-1m";
    private readonly string _folder = TestStorage.NewTempFolder();

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    [Fact]
    public async Task AStreamWithoutHolesIsSearchedInThreeReadsWhereverThePageStarts()
    {
        await using var store = await OpenAsync();
        var openTimes = await AppendAsync(store, Enumerable.Range(0, 5000).Select(i => (long)i));

        foreach (var version in new[] { 2, 3, 100, 2500, 4999 })
        {
            var (found, reads) = await CandleSeek.FirstAfterAsync(store, StreamId, openTimes[version - 2], default).AsTask().WaitAsync(Wait);
            Assert.Equal(version, found);
            Assert.Equal(3, reads);
        }

        Assert.Equal((0L, 1), await CandleSeek.FirstAfterAsync(store, StreamId, openTimes[^1], default).AsTask().WaitAsync(Wait));
    }

    [Fact]
    public async Task HolesCostAtMostTwiceABinarySearchsProbes()
    {
        // Holes everywhere, of every length: interpolation alone would crawl; the bisection steps between keep it logarithmic.
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
        var bound = 2 + (2 * (int)Math.Ceiling(Math.Log2(openTimes.Count)));
        for (var probe = 0; probe < 300; probe++)
        {
            var after = openTimes[random.Next(openTimes.Count)] - random.Next(2);
            var (found, reads) = await CandleSeek.FirstAfterAsync(store, StreamId, after, default).AsTask().WaitAsync(Wait);
            Assert.Equal(openTimes.FindIndex(t => t > after) + 1, found);
            Assert.InRange(reads, 1, bound);
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
