using SignalStream.Contracts;
using SignalStream.FakeExchange;
using Xunit.Abstractions;

namespace SignalStream.Ingest.Tests.Binance;

public sealed class FaultToleranceTests(ITestOutputHelper output)
{
    private const int Symbols = 500;
    private const int Rounds = 20;
    private const int Warmup = 3;
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    /// <summary>
    /// 500 streams, 20 closes each, random faults of every kind. Every closed candle must arrive exactly once, in
    /// order, with the exchange's exact values; and the candles recovered from REST must be exactly the ones whose
    /// closed frame the client could not have used (computed from what the fake actually wrote).
    /// </summary>
    [Fact]
    public async Task EveryClosedCandleArrivesExactlyOnceInOrderDespiteRandomFaults()
    {
        var fakeOptions = new FakeExchangeOptions
        {
            Symbols = FakeExchangeOptions.GenerateSymbols(Symbols),
            Seed = 20_240_101,
            PingInterval = TimeSpan.FromSeconds(1),
            Faults = new FaultOptions { SkipClose = 0.02, DuplicateClose = 0.02, LateClose = 0.02, MalformedFrame = 0.02 },
        };
        await using var h = await SourceHarness.StartAsync(fakeOptions, o =>
        {
            o.MaxStreamsPerConnection = 200;
            o.NoDataTimeout = TimeSpan.FromMilliseconds(1500);
        }, warmup: Warmup);
        var fake = h.Fake;
        Func<Task> keepAlive = () => fake.TickAsync();
        await fake.WaitUntilAsync(f => f.SubscribedStreams == Symbols, Timeout, "every stream subscribed");
        var streams = fakeOptions.Symbols.Select(s => new StreamKey(s, Timeframe.OneMinute)).ToArray();
        await h.WaitForAsync(x => streams.All(s => x.ClosedOf(s).Count == Warmup), Timeout, "warm-up");

        // Connection faults of every kind at random rounds: two each of drop, stall, serverShutdown and REST 429.
        var random = new Random(7);
        string[] kinds = ["drop", "stall", "serverShutdown", "rest429", "drop", "stall", "serverShutdown", "rest429"];
        var faultRounds = Enumerable.Range(0, (Rounds - 2) / 2).Select(i => 1 + (2 * i)).OrderBy(_ => random.Next()).Take(kinds.Length).ToArray();
        var plan = faultRounds.Zip(kinds).ToDictionary(p => p.First, p => p.Second);
        for (var round = 0; round < Rounds; round++)
        {
            await fake.TickAsync().WaitAsync(Timeout);
            await fake.AdvanceAsync().WaitAsync(Timeout);
            if (!plan.TryGetValue(round, out var fault))
            {
                continue;
            }

            switch (fault)
            {
                case "drop":
                    Assert.True(await fake.DropConnectionAsync().WaitAsync(Timeout));
                    break;
                case "stall":
                    Assert.True(await fake.StallConnectionAsync().WaitAsync(Timeout));
                    break;
                case "serverShutdown":
                    Assert.True(await fake.ServerShutdownAsync().WaitAsync(Timeout));
                    break;
                default:
                    fake.RateLimitNextRestRequests(1);
                    continue;
            }

            // The next round goes out at once, so the faulted connection misses it and the client must backfill.
            await fake.TickAsync().WaitAsync(Timeout);
            await fake.AdvanceAsync().WaitAsync(Timeout);
            round++;
            await WaitFedAsync(fake, () => fake.SubscribedStreams == Symbols, "recovery after " + fault);
        }

        // A final in-progress frame on every stream reveals any trailing gap.
        await WaitFedAsync(fake, () => fake.SubscribedStreams == Symbols, "every stream subscribed at the end");
        await fake.TickAsync().WaitAsync(Timeout);
        var lastOpen = Timeframe.OneMinute.OpenTimeOf(fake.Now) - 60_000;
        await h.WaitForAsync(x => streams.All(s => x.ClosedOf(s) is { Count: > 0 } l && l[^1].Candle.OpenTime == lastOpen),
            TimeSpan.FromSeconds(45), "the last close on every stream", keepAlive);

        Assert.Empty(fake.Violations);
        Assert.Equal(0, fake.PongMismatches);
        // A connection that ended without a fault of the fake's was closed by the client: its watchdog saw a healthy
        // connection silent for NoDataTimeout, which a loaded machine can cause. What the fake wrote on it may have
        // been lost in flight, so its candles may come either way; every other candle's origin is exact.
        var writes = fake.KlineWrites;
        var faulted = fake.InjectedFaults.Where(f => f.Stream is null).Select(f => f.Connection).ToHashSet();
        var open = fake.OpenConnections.Select(c => c.Id).ToHashSet();
        var closedByClient = writes.Select(w => w.Connection).Distinct().Where(c => !open.Contains(c) && !faulted.Contains(c)).ToHashSet();
        var expectedBackfill = ExpectedBackfill(writes, h.AllClosed());
        var mayBackfill = ExpectedBackfill(writes.Where(w => !closedByClient.Contains(w.Connection)).ToList(), h.AllClosed());
        var actualBackfill = new HashSet<(string, long)>();
        foreach (var stream in streams)
        {
            var closed = h.ClosedOf(stream);
            Assert.Equal(Warmup + Rounds, closed.Count);
            Assert.All(closed.Take(Warmup), u => Assert.Equal(CandleOrigin.History, u.Origin));
            BinanceSourceTests.AssertConsecutiveAndExact(fake, closed);
            foreach (var u in closed.Where(u => u.Origin == CandleOrigin.Backfill))
            {
                actualBackfill.Add((ToName(stream), u.Candle.OpenTime));
            }
        }

        // Every injected skip and late close is among the backfilled candles, and nothing else was backfilled
        // that the client could have taken live.
        var gapFaults = fake.InjectedFaults.Where(f => f.Kind is "skip" or "late").Select(f => (f.Stream!, f.OpenTime)).ToList();
        Assert.NotEmpty(gapFaults);
        Assert.Subset(expectedBackfill, gapFaults.ToHashSet());
        Assert.Subset(actualBackfill, expectedBackfill);
        Assert.Subset(mayBackfill, actualBackfill);
        Assert.Equal(6, fake.InjectedFaults.Count(f => f.Kind is "drop" or "stall" or "serverShutdown"));
        output.WriteLine($"{Symbols * Rounds} closes, {actualBackfill.Count} backfilled, faults: " +
                         string.Join(", ", fake.InjectedFaults.GroupBy(f => f.Kind).Select(g => $"{g.Key} {g.Count()}")) +
                         $", connections {fake.ConnectionsAccepted} ({closedByClient.Count} closed by the client's watchdog), REST requests {fake.RestRequests} ({fake.RestRateLimited} rate limited)");
        Assert.True(fake.RestRateLimited >= 1);
    }

    /// <summary>
    /// Waits while sending in-progress frames, so healthy connections never look silent to the client's watchdog: a
    /// client closing a healthy connection could lose frames in flight, which the oracle cannot know about.
    /// </summary>
    private static async Task WaitFedAsync(FakeBinanceExchange fake, Func<bool> condition, string what)
    {
        var deadline = DateTime.UtcNow + Timeout;
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, $"Timed out after {Timeout} waiting for {what}.");
            await fake.TickAsync().WaitAsync(Timeout);
            await Task.Delay(100);
        }
    }

    /// <summary>
    /// The oracle: replays what the fake wrote per stream. A candle is delivered live only if its closed frame came
    /// before any frame of a later candle; any candle skipped over is a gap the client must backfill.
    /// </summary>
    private static HashSet<(string, long)> ExpectedBackfill(IReadOnlyList<KlineWrite> writes, IReadOnlyDictionary<StreamKey, CandleUpdate[]> delivered)
    {
        var last = delivered.ToDictionary(p => ToName(p.Key), p => p.Value.Where(u => u.Origin == CandleOrigin.History).Max(u => u.Candle.OpenTime));
        var expected = new HashSet<(string, long)>();
        foreach (var write in writes)
        {
            var previous = last[write.Stream];
            if (write.OpenTime <= previous)
            {
                continue;
            }

            for (var open = previous + 60_000; open < write.OpenTime; open += 60_000)
            {
                expected.Add((write.Stream, open));
            }

            last[write.Stream] = write.IsClosed ? write.OpenTime : write.OpenTime - 60_000;
        }

        return expected;
    }

    private static string ToName(StreamKey key) => $"{key.Symbol.ToLowerInvariant()}@kline_{key.Timeframe.ToName()}";
}
