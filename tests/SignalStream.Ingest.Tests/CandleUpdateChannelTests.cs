using SignalStream.Contracts;

namespace SignalStream.Ingest.Tests;

public sealed class CandleUpdateChannelTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);
    private static readonly StreamKey Btc = new("BTCUSDT", Timeframe.OneMinute);

    [Fact]
    public async Task ClosedCandlesAreNeverDroppedAndStayInOrder()
    {
        var channel = new CandleUpdateChannel(16);
        var writer = Task.Run(async () =>
        {
            for (var i = 0; i < 5000; i++)
            {
                await channel.WriteClosedAsync(Closed(Btc, i));
                channel.WriteProgress(Progress(Btc, i + 1));
            }

            channel.Complete();
        });

        var closed = new List<long>();
        long lastClosed = -1;
        using var deadline = new CancellationTokenSource(Timeout);
        await foreach (var update in channel.ReadAllAsync().WithCancellation(deadline.Token))
        {
            if (update.IsClosed)
            {
                closed.Add(update.Candle.OpenTime);
                lastClosed = update.Candle.OpenTime;
            }
            else
            {
                Assert.True(update.Candle.OpenTime > lastClosed, "an in-progress update was not newer than the last closed candle");
            }
        }

        await writer.WaitAsync(Timeout);
        Assert.Equal(Enumerable.Range(0, 5000).Select(i => OpenTime(i)), closed);
    }

    [Fact]
    public async Task AFullChannelHoldsClosedWritersBackUntilTheReaderTakesOne()
    {
        var channel = new CandleUpdateChannel(2);
        await channel.WriteClosedAsync(Closed(Btc, 0)).AsTask().WaitAsync(Timeout);
        await channel.WriteClosedAsync(Closed(Btc, 1)).AsTask().WaitAsync(Timeout);
        var third = channel.WriteClosedAsync(Closed(Btc, 2)).AsTask();

        Assert.False(third.IsCompleted);
        Assert.Equal(2, channel.ClosedQueued);
        Assert.True(channel.TryRead(out var first));
        await third.WaitAsync(Timeout);
        Assert.Equal(OpenTime(0), first.Candle.OpenTime);
        Assert.Equal(2, channel.ClosedQueued);
    }

    [Fact]
    public void InProgressUpdatesNeverWaitAndAreCoalescedToTheNewest()
    {
        var channel = new CandleUpdateChannel(1);
        for (var i = 0; i < 1000; i++)
        {
            channel.WriteProgress(Progress(Btc, 5, volume: i));
        }

        Assert.True(channel.TryRead(out var update));
        Assert.Equal(999m, update.Candle.Volume);
        Assert.False(channel.TryRead(out _));
    }

    [Fact]
    public async Task AnInProgressUpdateIsNeverDeliveredAheadOfAnEarlierClosedCandle()
    {
        var channel = new CandleUpdateChannel(8);
        channel.WriteProgress(Progress(Btc, 0));
        await channel.WriteClosedAsync(Closed(Btc, 0));

        // Coalesces into the marker queued before the close: it must still come out after the close.
        channel.WriteProgress(Progress(Btc, 1));

        Assert.True(channel.TryRead(out var a));
        Assert.True(channel.TryRead(out var b));
        Assert.False(channel.TryRead(out _));
        Assert.Equal((true, OpenTime(0)), (a.IsClosed, a.Candle.OpenTime));
        Assert.Equal((false, OpenTime(1)), (b.IsClosed, b.Candle.OpenTime));
    }

    [Fact]
    public async Task AnInProgressUpdateOlderThanTheLastClosedIsDropped()
    {
        var channel = new CandleUpdateChannel(8);
        await channel.WriteClosedAsync(Closed(Btc, 3));
        Assert.True(channel.TryRead(out _));
        channel.WriteProgress(Progress(Btc, 3));
        channel.WriteProgress(Progress(Btc with { Symbol = "ETHUSDT" }, 1));

        Assert.True(channel.TryRead(out var only));
        Assert.Equal("ETHUSDT", only.Candle.Symbol);
        Assert.False(channel.TryRead(out _));
    }

    [Fact]
    public async Task WritersAreTurnedAwayOnceCompletedAndTheReaderDrains()
    {
        var channel = new CandleUpdateChannel(8);
        await channel.WriteClosedAsync(Closed(Btc, 0));
        channel.Complete();
        await Assert.ThrowsAsync<System.Threading.Channels.ChannelClosedException>(() => channel.WriteClosedAsync(Closed(Btc, 1)).AsTask());
        Assert.True(channel.TryRead(out _));
        Assert.False(await channel.WaitToReadAsync().AsTask().WaitAsync(Timeout));
        Assert.Throws<ArgumentException>(() => channel.WriteProgress(Closed(Btc, 2)));
    }

    private static long OpenTime(int i) => 1_704_067_200_000 + (i * 60_000L);

    internal static CandleUpdate Closed(StreamKey stream, int i) => Update(stream, i, true, 1);

    internal static CandleUpdate Progress(StreamKey stream, int i, decimal volume = 1) => Update(stream, i, false, volume);

    private static CandleUpdate Update(StreamKey stream, int i, bool closed, decimal volume) =>
        new("test", new Candle(stream.Symbol, stream.Timeframe, OpenTime(i), OpenTime(i) + 59_999, 1, 1, 1, 1, volume, 1, 1, 0, 0),
            closed, 0, 0, CandleOrigin.Live);
}
