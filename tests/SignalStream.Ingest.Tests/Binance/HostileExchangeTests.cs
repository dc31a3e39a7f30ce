using System.Text;
using SignalStream.Contracts;
using SignalStream.Ingest.Binance;
using SignalStream.Ingest.Binance.Internal;
using SignalStream.Testing;
using SignalStream.Testing.FakeExchange;

namespace SignalStream.Ingest.Tests.Binance;

/// <summary>
/// An exchange that sends what no client expects: a message of 64 MB, frames of reserved or unexpected types, kline
/// frames whose clock is corrupt, a REST reply of 64 MB. The connection is bounded, replaced when it must be, never lost
/// for good, and every closed candle still arrives exactly once, in order, with the exchange's values (REST fills what
/// the faults cost); a REST request reads no more than its bound.
/// </summary>
public sealed class HostileExchangeTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);
    private static readonly StreamKey Btc = new("BTCUSDT", Timeframe.OneMinute);
    private static readonly StreamKey Eth = new("ETHUSDT", Timeframe.OneMinute);

    [Fact]
    public async Task AMessageOverTheLimitDropsTheConnectionWhichReconnectsAndLosesNoClosedCandle()
    {
        await using var h = await SourceHarness.StartAsync(new FakeExchangeOptions(), warmup: 2);
        await h.Fake.WaitUntilAsync(f => f.SubscribedStreams == 2, Timeout, "2 subscribed streams");
        await RoundsAsync(h, 2);
        await WaitClosedAsync(h, 4);

        // 64 MB against the default 1 MiB bound; while the client is away (kept away: it reconnects within 20 ms
        // otherwise) two candles close that it never sees live.
        h.Fake.RefuseConnections = true;
        var victim = await h.Fake.SendHugeMessageAsync(64L * 1024 * 1024).WaitAsync(Timeout);
        Assert.NotNull(victim);
        await RoundsAsync(h, 2);
        h.Fake.RefuseConnections = false;
        await h.Fake.WaitUntilAsync(f => f.SubscribedStreams == 2 && f.ConnectionsAccepted >= 2, Timeout, "a new connection");
        await RoundsAsync(h, 2);
        await WaitClosedAsync(h, 8);

        Assert.Equal(1, h.Reconnects("message_too_large"));
        Assert.Equal(1, h.Rejected("TooLarge"));
        Assert.InRange(h.Source.LargestReceiveBuffer, 1, 1024 * 1024); // never grown past the bound
        Assert.Contains(h.ClosedOf(Btc), u => u.Origin == CandleOrigin.Backfill);
        AssertEveryCloseExact(h, 8);
        Assert.False(h.AnyConnectionEnded);
        Assert.Empty(h.Fake.Violations);
    }

    [Fact]
    public async Task ALimitOnlyJustAboveAKlineFrameStillTakesEveryFrameThatFits()
    {
        // A kline frame is about 600 bytes; 4 KB is the smallest limit allowed and must lose nothing.
        await using var h = await SourceHarness.StartAsync(new FakeExchangeOptions(), o =>
        {
            o.MaxMessageBytes = 4096;
            o.ReceiveBufferBytes = 1024;
        }, warmup: 1);
        await h.Fake.WaitUntilAsync(f => f.SubscribedStreams == 2, Timeout, "2 subscribed streams");
        await RoundsAsync(h, 3);
        await WaitClosedAsync(h, 4);
        Assert.All(h.ClosedOf(Btc).Skip(1), u => Assert.Equal(CandleOrigin.Live, u.Origin));
        Assert.Equal(0, h.Reconnects("message_too_large"));
        AssertEveryCloseExact(h, 4);
    }

    [Fact]
    public async Task FramesOfEveryUnexpectedTypeNeverEndTheConnectionTaskAndLoseNoClosedCandle()
    {
        await using var h = await SourceHarness.StartAsync(new FakeExchangeOptions(), warmup: 1);
        await h.Fake.WaitUntilAsync(f => f.SubscribedStreams == 2, Timeout, "2 subscribed streams");
        await RoundsAsync(h, 1);
        await WaitClosedAsync(h, 2);

        // Each batch is one connection's last: the harmless kinds first, then one the WebSocket itself refuses.
        (byte, byte[])[][] batches =
        [
            [(FakeBinanceExchange.BinaryOpcode, "{\"result\":null,\"id\":1}"u8.ToArray()), (FakeBinanceExchange.PongOpcode, [1, 2, 3]),
             (FakeBinanceExchange.TextOpcode, "[]"u8.ToArray()), (FakeBinanceExchange.TextOpcode, []), (0x3, [0x7B])],
            [(FakeBinanceExchange.TextOpcode, [0x7B, 0x22, 0xC3, 0x28, 0x22, 0x7D])], // invalid UTF-8 in a text message
            [(FakeBinanceExchange.PingOpcode, new byte[126])], // a control frame longer than RFC 6455 allows
            [(0x0, "{}"u8.ToArray())], // a continuation with nothing to continue
        ];
        foreach (var batch in batches)
        {
            var before = h.Fake.ConnectionsAccepted;
            Assert.Equal(1, await h.Fake.SendRawAsync(batch).WaitAsync(Timeout));
            await RoundsAsync(h, 1);
            await h.Fake.WaitUntilAsync(f => f.ConnectionsAccepted > before && f.SubscribedStreams == 2, Timeout,
                $"a new connection after raw opcodes {string.Join(",", batch.Select(b => b.Item1))}");
        }

        await RoundsAsync(h, 2);
        await WaitClosedAsync(h, 2 + batches.Length + 2);
        AssertEveryCloseExact(h, 2 + batches.Length + 2);
        Assert.Equal(batches.Length, h.Reconnects("network"));
        Assert.False(h.AnyConnectionEnded);
    }

    [Fact]
    public async Task AKlineWithACorruptEventTimeNeitherEndsTheConnectionNorSkipsCandles()
    {
        // 1M streams do calendar arithmetic on the exchange's clock: an event time centuries ahead used to overflow it
        // and end the connection's task for good; on 1m streams it made every later candle look overdue and skipped.
        await using var h = await SourceHarness.StartAsync(
            new FakeExchangeOptions { Timeframes = [Timeframe.OneMinute, Timeframe.OneMonth] }, warmup: 0);
        await h.Fake.WaitUntilAsync(f => f.SubscribedStreams == 4, Timeout, "4 subscribed streams");
        await RoundsAsync(h, 2);
        await WaitClosedAsync(h, 2);

        var open = Timeframe.OneMinute.OpenTimeOf(h.Fake.Now);
        var month = Timeframe.OneMonth.OpenTimeOf(h.Fake.Now);
        var btc = h.Fake.Market.CandleAt("BTCUSDT", Timeframe.OneMonth, month);
        var eth = h.Fake.Market.CandleAt("ETHUSDT", Timeframe.OneMinute, open);
        await h.Fake.SendRawAsync(
        [
            (FakeBinanceExchange.TextOpcode, h.Fake.KlineFrameBytes(btc, false, 9_000_000_000_000_000)),
            (FakeBinanceExchange.TextOpcode, h.Fake.KlineFrameBytes(eth, false, h.Fake.Now + (400L * 24 * 3600 * 1000))),
        ]).WaitAsync(Timeout);

        // The damage was done by the late-close scan that follows a frame (every 250 ms): let two run first.
        var scans = h.Source.LateScans;
        await h.WaitForAsync(x => x.Source.LateScans >= scans + 2 || x.AnyConnectionEnded, Timeout, "two late-close scans",
            () => h.Fake.TickAsync());
        await RoundsAsync(h, 3);
        await WaitClosedAsync(h, 5);

        AssertEveryCloseExact(h, 5);
        Assert.All(h.ClosedOf(Eth).Skip(1), u => Assert.Equal(CandleOrigin.Live, u.Origin));
        Assert.Equal(1, h.Rejected("BadValue"));
        Assert.Equal(1, h.Fake.ConnectionsAccepted);
        Assert.False(h.AnyConnectionEnded);
    }

    [Fact]
    public async Task ARetryAfterOfDecadesIsCappedAtBinancesLongestBanAndEndsNothing()
    {
        // Retry-After: 2000000000 (63 years) used to go straight to Task.Delay, whose limit is about 49 days: the
        // exception ended the connection's task during a backfill.
        await using var h = await SourceHarness.StartAsync(new FakeExchangeOptions(), warmup: 0);
        await h.Fake.WaitUntilAsync(f => f.SubscribedStreams == 2, Timeout, "2 subscribed streams");
        await RoundsAsync(h, 1);
        await WaitClosedAsync(h, 1);

        h.Fake.RateLimitNextRestRequests(1, 429, "2000000000");
        Assert.True(await h.Fake.DropConnectionAsync().WaitAsync(Timeout));
        await RoundsAsync(h, 2); // missed: the new connection's first frame makes the client backfill them
        await h.WaitForAsync(x => x.Source.Rest.BlockedFor > TimeSpan.Zero || x.AnyConnectionEnded, Timeout, "the 429",
            () => h.Fake.TickAsync());

        Assert.InRange(h.Source.Rest.BlockedFor, TimeSpan.FromDays(2.9), TimeSpan.FromDays(3));
        Assert.False(h.AnyConnectionEnded);
        Assert.Equal(0, h.Reconnects("fault"));
    }

    [Fact]
    public async Task ARestReplyOverTheBoundIsAbandonedAtTheBoundAndRetriedWithAnErrorNamingTheBound()
    {
        // Read whole, as HttpClient does by default, 64 MB would be buffered (up to 2 GiB could be) per request.
        await using var fake = new FakeBinanceExchange();
        await fake.StartAsync().WaitAsync(Timeout);
        fake.ServeOversizedRestReplies(64L * 1024 * 1024);
        using var logs = new CapturingLoggerProvider();
        using var http = new HttpClient();
        var options = new BinanceOptions
        {
            RestUrl = fake.RestUrl,
            MaxRestResponseBytes = 1024 * 1024,
            ReconnectDelayMin = TimeSpan.FromMilliseconds(20),
            ReconnectDelayMax = TimeSpan.FromMilliseconds(200),
        };
        Assert.Empty(options.Validate());
        var rest = new BinanceRestClient(http, options, TimeProvider.System, logs.CreateLogger("rest"));
        using var stop = new CancellationTokenSource();
        var candles = new List<Candle>();

        var fetch = rest.GetKlinesAsync(Btc, null, null, BinanceRestClient.MaxLimit, candles, stop.Token);
        var failed = await logs.WaitForEventAsync(1112).WaitAsync(Timeout); // RestFailed: retried with backoff
        await fake.WaitUntilAsync(f => f.OversizedRestRepliesAbandoned + f.OversizedRestRepliesCompleted >= 1, Timeout,
            "a reply to end");
        await stop.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => fetch.WaitAsync(Timeout));

        Assert.Contains("response longer than 1048576 bytes (Ingest:Binance:MaxRestResponseBytes) from /api/v3/klines",
            failed.Message, StringComparison.Ordinal);
        Assert.Empty(candles);
        Assert.Equal(0, fake.OversizedRestRepliesCompleted);
        // The bound, the drain HttpClient tries on dispose (1 MiB) and the loopback socket buffers: far below 64 MB.
        Assert.InRange(fake.OversizedRestMostWritten, 1024 * 1024, 32L * 1024 * 1024);
    }

    internal static async Task RoundsAsync(SourceHarness h, int rounds)
    {
        for (var i = 0; i < rounds; i++)
        {
            await h.Fake.TickAsync().WaitAsync(Timeout);
            await h.Fake.AdvanceAsync().WaitAsync(Timeout);
        }
    }

    /// <summary>Waits for <paramref name="count"/> closed 1m candles of both symbols, feeding in-progress frames meanwhile.</summary>
    internal static Task WaitClosedAsync(SourceHarness h, int count) =>
        h.WaitForAsync(x => x.ClosedOf(Btc).Count >= count && x.ClosedOf(Eth).Count >= count, Timeout,
            $"{count} closed candles on both streams", () => h.Fake.TickAsync());

    internal static void AssertEveryCloseExact(SourceHarness h, int count)
    {
        foreach (var stream in new[] { Btc, Eth })
        {
            var closed = h.ClosedOf(stream);
            Assert.Equal(count, closed.Count);
            BinanceSourceTests.AssertConsecutiveAndExact(h.Fake, closed);
        }
    }
}
