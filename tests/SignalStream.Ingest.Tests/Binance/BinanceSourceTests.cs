using SignalStream.Contracts;
using SignalStream.Testing.FakeExchange;

namespace SignalStream.Ingest.Tests.Binance;

public sealed class BinanceSourceTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task WarmupHistoryComesFirstThenLiveClosesInOrderWithExactValues()
    {
        await using var h = await SourceHarness.StartAsync(new FakeExchangeOptions { Symbols = ["BTCUSDT", "ETHUSDT"] }, warmup: 5);
        await h.Fake.WaitUntilAsync(f => f.SubscribedStreams == 2, Timeout, "2 subscribed streams");
        for (var i = 0; i < 3; i++)
        {
            await h.Fake.TickAsync().WaitAsync(Timeout);
            await h.Fake.AdvanceAsync().WaitAsync(Timeout);
        }

        var btc = new StreamKey("BTCUSDT", Timeframe.OneMinute);
        await h.WaitForAsync(x => x.ClosedOf(btc).Count == 8 && x.ClosedOf(btc with { Symbol = "ETHUSDT" }).Count == 8, Timeout, "5 history + 3 live closes");

        var closed = h.ClosedOf(btc);
        Assert.All(closed.Take(5), u => Assert.Equal(CandleOrigin.History, u.Origin));
        Assert.All(closed.Skip(5), u => Assert.Equal(CandleOrigin.Live, u.Origin));
        AssertConsecutiveAndExact(h.Fake, closed);
        Assert.All(closed, u => Assert.Equal("binance", u.Exchange));
        Assert.Equal(h.Fake.Market.CandleAt("BTCUSDT", Timeframe.OneMinute, closed[^1].Candle.OpenTime), closed[^1].Candle);
        Assert.Equal(closed[^1].Candle.CloseTime + 1, closed[^1].EventTime);
        Assert.True(h.ProgressUpdates > 0);
        Assert.Empty(h.Fake.Violations);
    }

    [Fact]
    public async Task AWarmUpLongerThanOneRestPageIsLoadedWholeInPages()
    {
        var fake = new FakeExchangeOptions { Symbols = ["BTCUSDT"] };
        var btc = new StreamKey("BTCUSDT", Timeframe.OneMinute);
        await using var h = await SourceHarness.StartAsync(fake, warmup: 1500);

        await h.WaitForAsync(x => x.ClosedOf(btc).Count == 1500, Timeout, "1500 history candles, two pages of REST");

        Assert.All(h.ClosedOf(btc), u => Assert.Equal(CandleOrigin.History, u.Origin));
        AssertConsecutiveAndExact(h.Fake, h.ClosedOf(btc));
        Assert.Equal(fake.StartTime - 60_000, h.ClosedOf(btc)[^1].Candle.OpenTime);
    }

    [Fact]
    public async Task AfterARestartTheCandlesPastTheStoredOneAreBackfilledToBeDecidedAndTheWarmUpBeforeThemIsHistory()
    {
        // The store's newest candle opened four minutes before the fake's current one: three closed while the node was down.
        var fake = new FakeExchangeOptions { Symbols = ["BTCUSDT"] };
        var btc = new StreamKey("BTCUSDT", Timeframe.OneMinute);
        var stored = fake.StartTime - (4 * 60_000);
        await using var h = await SourceHarness.StartAsync(fake, warmup: 5, resumePoints: new StoredAt(btc, stored));

        await h.WaitForAsync(x => x.ClosedOf(btc).Count == 8, Timeout, "5 history + 3 backfilled");

        var closed = h.ClosedOf(btc);
        Assert.Equal(stored, closed[4].Candle.OpenTime);
        Assert.All(closed.Take(5), u => Assert.Equal(CandleOrigin.History, u.Origin));
        Assert.All(closed.Skip(5), u => Assert.Equal(CandleOrigin.Backfill, u.Origin));
        AssertConsecutiveAndExact(h.Fake, closed);
    }

    [Fact]
    public async Task ARestartAfterAnOutageLongerThanTheResumeBoundDecidesOnlyTheNewestCandlesItAllows()
    {
        var fake = new FakeExchangeOptions { Symbols = ["BTCUSDT"] };
        var btc = new StreamKey("BTCUSDT", Timeframe.OneMinute);
        var stored = fake.StartTime - (40 * 60_000);
        await using var h = await SourceHarness.StartAsync(fake, warmup: 5, resumePoints: new StoredAt(btc, stored), resumeBackfill: 2);

        await h.WaitForAsync(x => x.ClosedOf(btc).Count == 7, Timeout, "5 history + 2 backfilled");

        var closed = h.ClosedOf(btc);
        Assert.All(closed.Take(5), u => Assert.Equal(CandleOrigin.History, u.Origin));
        Assert.Equal([CandleOrigin.Backfill, CandleOrigin.Backfill], closed.Skip(5).Select(u => u.Origin));
        Assert.Equal(fake.StartTime - 60_000, closed[^1].Candle.OpenTime);
        AssertConsecutiveAndExact(h.Fake, closed);
    }

    [Fact]
    public async Task EveryPingIsAnsweredWithItsPayload()
    {
        await using var h = await SourceHarness.StartAsync(new FakeExchangeOptions { PingInterval = TimeSpan.FromMilliseconds(250) });
        await h.Fake.WaitUntilAsync(f => f.PongsMatched >= 4, Timeout, "four pongs");
        Assert.Equal(0, h.Fake.PongMismatches);
        Assert.Empty(h.Fake.Violations);
    }

    [Fact]
    public async Task MoreThan1024StreamsAreSplitAcrossConnections()
    {
        // 515 symbols x 2 timeframes = 1030 streams: one connection cannot hold them.
        var symbols = FakeExchangeOptions.GenerateSymbols(515);
        await using var h = await SourceHarness.StartAsync(
            new FakeExchangeOptions { Symbols = symbols, Timeframes = [Timeframe.OneMinute, Timeframe.FiveMinutes] }, warmup: 1);
        await h.Fake.WaitUntilAsync(f => f.SubscribedStreams == 1030, Timeout, "1030 subscribed streams");

        Assert.Equal(2, h.Fake.OpenConnections.Count);
        Assert.True(h.Fake.MaxStreamsOnOneConnection <= 1024);
        Assert.Contains(h.Fake.ControlMessages, m => m.Method == "SUBSCRIBE");
        var bell = await h.Fake.ClosingBellAsync().WaitAsync(Timeout);
        Assert.Equal(1030, bell.Count);
        await h.WaitForAsync(x => bell.All(c => x.ClosedOf(c.Stream) is { Count: > 0 } l && l[^1].Candle == c), Timeout,
            "the closing bell's candle on every stream");
        Assert.Empty(h.Fake.Violations);
    }

    [Fact]
    public async Task ALoweredStreamLimitUsesMoreConnectionsAndNeverExceedsFiveMessagesASecond()
    {
        var symbols = FakeExchangeOptions.GenerateSymbols(250);
        await using var h = await SourceHarness.StartAsync(new FakeExchangeOptions { Symbols = symbols },
            o =>
            {
                o.MaxStreamsPerConnection = 100;

                // One below the cap: the fake times arrivals when it reads them, and a reader stalled on a loaded
                // machine could see correctly paced messages bunched together.
                o.MaxOutgoingMessagesPerSecond = 4;

                // A short URL forces most streams through SUBSCRIBE messages, which the limiter must pace.
                o.MaxUrlLength = 256;
                o.StreamsPerSubscribeMessage = 5;
            },
            warmup: 1);
        await h.Fake.WaitUntilAsync(f => f.SubscribedStreams == 250, Timeout, "250 subscribed streams");

        Assert.Equal(3, h.Fake.OpenConnections.Count);
        Assert.Equal(100, h.Fake.MaxStreamsOnOneConnection);
        Assert.True(h.Fake.ControlMessages.Count(m => m.Method == "SUBSCRIBE") >= 30);
        Assert.Empty(h.Fake.Violations);
    }

    [Fact]
    public async Task ConnectionsAreRotatedBeforeTheirLifetimeEndsWithoutLosingACandle()
    {
        await using var h = await SourceHarness.StartAsync(new FakeExchangeOptions(),
            o => o.ConnectionLifetime = TimeSpan.FromMilliseconds(400));
        var btc = new StreamKey("BTCUSDT", Timeframe.OneMinute);
        var rounds = 0;
        await h.Fake.WaitUntilAsync(f => f.SubscribedStreams == 2, Timeout, "subscription");
        while (h.Fake.ConnectionsAccepted < 4 || rounds < 10)
        {
            await h.Fake.TickAsync().WaitAsync(Timeout);
            await h.Fake.AdvanceAsync().WaitAsync(Timeout);
            rounds++;
            await Task.Delay(50);
            Assert.True(rounds < 500, "the client never rotated its connection");
        }

        await h.Fake.WaitUntilAsync(f => f.SubscribedStreams == 2, Timeout, "resubscription");
        await h.Fake.TickAsync().WaitAsync(Timeout);
        await h.WaitForAsync(x => x.ClosedOf(btc).Count == 3 + rounds, Timeout, "every close", () => h.Fake.TickAsync());

        AssertConsecutiveAndExact(h.Fake, h.ClosedOf(btc));
        Assert.True(h.Fake.ConnectionsAccepted >= 4);
        Assert.Empty(h.Fake.Violations);
    }

    [Fact]
    public async Task ServerShutdownMakesTheClientReconnectAtOnceAndBackfill()
    {
        await using var h = await SourceHarness.StartAsync(new FakeExchangeOptions(),
            o => o.ReconnectDelayMin = o.ReconnectDelayMax = TimeSpan.FromSeconds(20));
        await h.Fake.WaitUntilAsync(f => f.SubscribedStreams == 2, Timeout, "subscription");
        Assert.True(await h.Fake.ServerShutdownAsync().WaitAsync(Timeout));

        // Closes while the client moves to a new connection are recovered from REST.
        await h.Fake.AdvanceAsync().WaitAsync(Timeout);

        // The reconnect delay is 20 s for failures; serverShutdown must not wait for it.
        await h.Fake.WaitUntilAsync(f => f.ConnectionsAccepted == 2 && f.SubscribedStreams == 2, TimeSpan.FromSeconds(10), "a new connection");
        await h.Fake.AdvanceAsync().WaitAsync(Timeout);
        var btc = new StreamKey("BTCUSDT", Timeframe.OneMinute);
        await h.WaitForAsync(x => x.ClosedOf(btc).Count == 5, Timeout, "both closes");
        AssertConsecutiveAndExact(h.Fake, h.ClosedOf(btc));
        Assert.Empty(h.Fake.Violations);
    }

    [Fact]
    public async Task AResetConnectionIsReplacedAndNothingIsLostOrRepeated()
    {
        await using var h = await SourceHarness.StartAsync(new FakeExchangeOptions());
        var btc = new StreamKey("BTCUSDT", Timeframe.OneMinute);
        for (var round = 0; round < 6; round++)
        {
            await h.Fake.WaitUntilAsync(f => f.SubscribedStreams == 2, Timeout, "subscription");
            await h.Fake.TickAsync().WaitAsync(Timeout);
            await h.Fake.AdvanceAsync().WaitAsync(Timeout);
            if (round % 2 == 0)
            {
                // A TCP reset: frames in flight may be lost; the client must notice and repair the gap. It is kept away
                // while the next candle closes (it reconnects within 20 ms otherwise), so that one can only be backfilled.
                h.Fake.RefuseConnections = true;
                Assert.True(await h.Fake.DropConnectionAsync(abrupt: true).WaitAsync(Timeout));
                await h.Fake.AdvanceAsync().WaitAsync(Timeout);
                h.Fake.RefuseConnections = false;
                round++;
            }
        }

        await h.Fake.WaitUntilAsync(f => f.SubscribedStreams == 2, Timeout, "subscription");
        await h.WaitForAsync(x => x.ClosedOf(btc).Count == 3 + 6, Timeout, "every close", () => h.Fake.TickAsync());
        AssertConsecutiveAndExact(h.Fake, h.ClosedOf(btc));
        Assert.Contains(h.ClosedOf(btc), u => u.Origin == CandleOrigin.Backfill);
        Assert.Empty(h.Fake.Violations);
    }

    [Fact]
    public async Task ChangingTheStreamsSubscribesAndUnsubscribesLive()
    {
        await using var h = await SourceHarness.StartAsync(new FakeExchangeOptions { Symbols = ["BTCUSDT", "ETHUSDT", "BNBUSDT"] },
            warmup: 2, symbols: ["BTCUSDT", "ETHUSDT"]);
        await h.Fake.WaitUntilAsync(f => f.SubscribedStreams == 2, Timeout, "initial subscription");

        var bnb = new StreamKey("BNBUSDT", Timeframe.OneMinute);
        var eth = new StreamKey("ETHUSDT", Timeframe.OneMinute);
        var btc = new StreamKey("BTCUSDT", Timeframe.OneMinute);
        await h.Source.UpdateStreamsAsync([btc, bnb], CancellationToken.None).WaitAsync(Timeout);
        await h.Fake.WaitUntilAsync(f => f.ControlMessages.Any(m => m.Method == "UNSUBSCRIBE" && m.Params.Contains("ethusdt@kline_1m"))
                                         && f.ControlMessages.Any(m => m.Method == "SUBSCRIBE" && m.Params.Contains("bnbusdt@kline_1m")),
            Timeout, "SUBSCRIBE bnb and UNSUBSCRIBE eth");
        Assert.Equal(1, h.Fake.ConnectionsAccepted);

        await h.Fake.AdvanceAsync().WaitAsync(Timeout);
        await h.WaitForAsync(x => x.ClosedOf(bnb).Count == 3 && x.ClosedOf(btc).Count == 3, Timeout, "closes on bnb and btc");
        Assert.Equal([CandleOrigin.History, CandleOrigin.History, CandleOrigin.Live], h.ClosedOf(bnb).Select(u => u.Origin));
        Assert.Equal(2, h.ClosedOf(eth).Count);

        // Re-adding a stream resumes it: its missed candle is backfilled, nothing is delivered twice.
        await h.Source.UpdateStreamsAsync([btc, bnb, eth], CancellationToken.None).WaitAsync(Timeout);
        await h.Fake.WaitUntilAsync(f => f.SubscribedStreams == 3, Timeout, "eth again");
        await h.Fake.AdvanceAsync().WaitAsync(Timeout);
        await h.WaitForAsync(x => x.ClosedOf(eth).Count == 4, Timeout, "eth resumed");
        AssertConsecutiveAndExact(h.Fake, h.ClosedOf(eth));
        Assert.Equal(CandleOrigin.Backfill, h.ClosedOf(eth)[2].Origin);
        Assert.Empty(h.Fake.Violations);
    }

    [Fact]
    public async Task ASilentConnectionIsReplacedAndItsGapBackfilled()
    {
        await using var h = await SourceHarness.StartAsync(new FakeExchangeOptions(), o => o.NoDataTimeout = TimeSpan.FromMilliseconds(300));
        await h.Fake.WaitUntilAsync(f => f.SubscribedStreams == 2, Timeout, "subscription");
        Assert.True(await h.Fake.StallConnectionAsync().WaitAsync(Timeout));
        await h.Fake.AdvanceAsync().WaitAsync(Timeout);
        await h.Fake.WaitUntilAsync(f => f.ConnectionsAccepted == 2 && f.SubscribedStreams == 2, Timeout, "a replacement connection");
        await h.Fake.TickAsync().WaitAsync(Timeout);
        var btc = new StreamKey("BTCUSDT", Timeframe.OneMinute);
        await h.WaitForAsync(x => x.ClosedOf(btc).Count == 4, Timeout, "the missed close", () => h.Fake.TickAsync());
        Assert.Equal(CandleOrigin.Backfill, h.ClosedOf(btc)[3].Origin);
        AssertConsecutiveAndExact(h.Fake, h.ClosedOf(btc));
    }

    [Fact]
    public async Task RateLimitedRestRequestsAreRetriedAfterRetryAfter()
    {
        await using var h = await SourceHarness.StartAsync(new FakeExchangeOptions(), o => o.NoDataTimeout = TimeSpan.FromMilliseconds(300));
        await h.Fake.WaitUntilAsync(f => f.SubscribedStreams == 2, Timeout, "subscription");
        h.Fake.RateLimitNextRestRequests(2, status: 418);
        Assert.True(await h.Fake.StallConnectionAsync().WaitAsync(Timeout));
        await h.Fake.AdvanceAsync().WaitAsync(Timeout);
        var btc = new StreamKey("BTCUSDT", Timeframe.OneMinute);
        await h.WaitForAsync(x => x.ClosedOf(btc).Count == 4, Timeout, "the close after the 418s", () => h.Fake.TickAsync());
        Assert.Equal(2, h.Fake.RestRateLimited);
        Assert.Equal(CandleOrigin.Backfill, h.ClosedOf(btc)[3].Origin);
        AssertConsecutiveAndExact(h.Fake, h.ClosedOf(btc));
    }

    [Fact]
    public async Task ACloseLaterThanTheGracePeriodIsFetchedFromRest()
    {
        await using var h = await SourceHarness.StartAsync(new FakeExchangeOptions(), o => o.ClosedCandleGracePeriod = TimeSpan.Zero);
        await h.Fake.WaitUntilAsync(f => f.SubscribedStreams == 2, Timeout, "subscription");

        // BTC goes silent; ETH's frames keep moving the exchange's clock past BTC's close.
        h.Fake.MuteStream("btcusdt@kline_1m");
        await h.Fake.AdvanceAsync().WaitAsync(Timeout);
        var btc = new StreamKey("BTCUSDT", Timeframe.OneMinute);
        await h.WaitForAsync(x => x.ClosedOf(btc).Count == 4, Timeout, "the overdue close", () => h.Fake.TickAsync());
        Assert.Equal(CandleOrigin.Backfill, h.ClosedOf(btc)[3].Origin);
        AssertConsecutiveAndExact(h.Fake, h.ClosedOf(btc));
        Assert.Equal(CandleOrigin.Live, h.ClosedOf(btc with { Symbol = "ETHUSDT" })[3].Origin);
    }

    internal static void AssertConsecutiveAndExact(FakeBinanceExchange fake, IReadOnlyList<CandleUpdate> closed)
    {
        Assert.NotEmpty(closed);
        for (var i = 0; i < closed.Count; i++)
        {
            var c = closed[i].Candle;
            Assert.True(closed[i].IsClosed);
            Assert.Equal(fake.Market.CandleAt(c.Symbol, c.Timeframe, c.OpenTime), c);
            if (i > 0)
            {
                Assert.Equal(c.Timeframe.NextOpenTime(closed[i - 1].Candle.OpenTime), c.OpenTime);
            }
        }
    }

    /// <summary>Where the store stopped for one stream.</summary>
    private sealed class StoredAt(StreamKey stream, long openTime) : IStreamResumePoints
    {
        public bool TryGetLastClosedOpenTime(StreamKey key, out long stored)
        {
            stored = openTime;
            return key == stream;
        }
    }
}
