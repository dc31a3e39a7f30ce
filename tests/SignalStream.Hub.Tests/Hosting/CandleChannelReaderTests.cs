using SignalStream.Contracts;
using SignalStream.EventStore;
using SignalStream.Hub.Hosting;
using SignalStream.Ingest;

namespace SignalStream.Hub.Tests.Hosting;

/// <summary>What the engine is given of what ingest offers after a restart, by the watermarks loaded from the store.</summary>
public sealed class CandleChannelReaderTests
{
    private static readonly StreamKey Btc = new("BTCUSDT", Timeframe.OneMinute);

    [Fact]
    public async Task ACandleDecidedBeforeACrashButNeverStoredComesAgainAsHistoryAndAStoredOneNotAtAll()
    {
        // The store holds candle 1; the signal of candle 3 was committed, candles 2 and 3 were not (killed in between).
        var watermarks = new CandleWatermarks();
        watermarks.Advance(Btc, Open(1));
        watermarks.AdvanceDecided(Btc, Open(3));
        var channel = new CandleUpdateChannel(64);
        var reader = new CandleChannelReader(channel, watermarks);

        await channel.WriteClosedAsync(Closed(1, CandleOrigin.Live));
        await channel.WriteClosedAsync(Closed(1, CandleOrigin.History));
        await channel.WriteClosedAsync(Closed(2, CandleOrigin.Backfill));
        await channel.WriteClosedAsync(Closed(3, CandleOrigin.Live));
        await channel.WriteClosedAsync(Closed(4, CandleOrigin.Live));
        channel.Complete();

        var passed = new List<(long Index, CandleOrigin Origin)>();
        while (await reader.WaitToReadAsync())
        {
            while (reader.TryRead(out var update))
            {
                passed.Add(((update.Candle.OpenTime - Open(0)) / 60_000, update.Origin));
            }
        }

        // 1 live: stored and decided before, dropped; 1 history: warm-up, passes; 2 and 3: stored now, decided never
        // again; 4: new.
        Assert.Equal(
            [(1L, CandleOrigin.History), (2L, CandleOrigin.History), (3L, CandleOrigin.History), (4L, CandleOrigin.Live)],
            passed);
    }

    [Fact]
    public async Task AnInProgressUpdateOfACandleDecidedBeforeTheRestartIsDropped()
    {
        var watermarks = new CandleWatermarks();
        watermarks.AdvanceDecided(Btc, Open(3));
        var channel = new CandleUpdateChannel(64);
        var reader = new CandleChannelReader(channel, watermarks);

        // One at a time: the channel keeps only a stream's newest in-progress update.
        channel.WriteProgress(TestSignals.Candle("BTCUSDT", Timeframe.OneMinute, 3, closed: false));
        channel.Complete();

        var passed = new List<long>();
        while (await reader.WaitToReadAsync())
        {
            while (reader.TryRead(out var update))
            {
                passed.Add(update.Candle.OpenTime);
            }
        }

        Assert.Empty(passed);
    }

    private static long Open(long index) => TestSignals.BaseTime + (index * 60_000);

    private static CandleUpdate Closed(long index, CandleOrigin origin) =>
        TestSignals.Candle("BTCUSDT", Timeframe.OneMinute, index) with { Origin = origin };
}
