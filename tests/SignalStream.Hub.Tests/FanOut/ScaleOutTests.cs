using System.Text.Json;
using SignalStream.Contracts;
using SignalStream.Hub.Tests.Infrastructure;

namespace SignalStream.Hub.Tests.FanOut;

/// <summary>
/// One engine node, two hub nodes and real Redis, all on loopback Kestrel in this process. Signals enter through the
/// engine node's own <c>EngineOutputs</c> (store first, then fan-out), so the test decides exactly what is published
/// and when Redis is away. The store differs per variant: see <see cref="ScaleOutTests"/> and <see cref="PostgresScaleOutTests"/>.
/// </summary>
public abstract class ScaleOutScenarios
{
    /// <summary>Settings for the store every node of one test shares (null: the variant injects a store itself).</summary>
    private protected abstract InMemorySignalHistory? NewSharedStore(out string[] settings);

    private async Task<(TestNode Engine, TestNode A, TestNode B)> StartClusterAsync(params string[] settings)
    {
        var store = NewSharedStore(out var storeSettings);
        var redis = TestServices.Redis;
        var channelPrefix = "Hub:RedisChannelPrefix=t" + Guid.NewGuid().ToString("N")[..8]; // isolates tests sharing the Redis
        string[] all = [channelPrefix, .. storeSettings, .. settings];
        var engine = await TestNode.StartAsync(store, "engine", redis, all);
        var a = await TestNode.StartAsync(store, "hub", redis, all);
        var b = await TestNode.StartAsync(store, "hub", redis, all);
        return (engine, a, b);
    }

    private protected static long[] Seqs(IEnumerable<JsonElement> signals) => signals.Select(s => s.GetProperty("seq").GetInt64()).ToArray();

    private protected static long[] Range(long from, long to) => Enumerable.Range((int)from, (int)(to - from + 1)).Select(i => (long)i).ToArray();

    [Fact]
    public async Task EveryClientOnEitherHubNodeReceivesEverySignalAcrossARedisRestart()
    {
        var (engine, a, b) = await StartClusterAsync();
        await using var _ = engine;
        await using var __ = a;
        await using var ___ = b;
        var clients = new List<HubTestClient>();
        try
        {
            foreach (var node in new[] { a, a, b, b })
            {
                var client = await node.ConnectAsync();
                clients.Add(client);
                await client.InvokeAsync("Subscribe", new { symbol = "BTCUSDT" });
            }

            var eth = await b.ConnectAsync();
            clients.Add(eth);
            await eth.InvokeAsync("Subscribe", new { symbol = "ETHUSDT" });

            for (var seq = 1; seq <= 40; seq++)
            {
                await engine.PublishAsync(TestSignals.Signal("BTCUSDT", seq));
                await engine.PublishAsync(TestSignals.Signal("ETHUSDT", seq));
            }

            await TestRedis.StopAsync();
            for (var seq = 41; seq <= 60; seq++)
            {
                await engine.PublishAsync(TestSignals.Signal("BTCUSDT", seq)); // lost on the bus: only the store has them
            }

            await TestRedis.StartAsync();
            for (var seq = 61; seq <= 100; seq++)
            {
                await engine.PublishAsync(TestSignals.Signal("BTCUSDT", seq));
            }

            foreach (var client in clients.Take(4))
            {
                Assert.Equal(Range(1, 100), Seqs(await client.NextEventsAsync(HubNames.SignalEvent, 100, TimeSpan.FromSeconds(30))));
            }

            Assert.Equal(Range(1, 40), Seqs(await eth.NextEventsAsync(HubNames.SignalEvent, 40)));
            await engine.PublishAsync(TestSignals.Signal("BTCUSDT", 101));
            foreach (var client in clients.Take(4))
            {
                Assert.Equal(new long[] { 101L }, Seqs(await client.NextEventsAsync(HubNames.SignalEvent, 1)));
                Assert.False(client.TryNextEvent(out var extra), "no duplicate after the stream");
            }
        }
        finally
        {
            await TestRedis.StartAsync(); // in case an assertion fired while it was down
            foreach (var client in clients)
            {
                await client.DisposeAsync();
            }
        }
    }

    [Fact]
    public async Task ResumeOnTheOtherNodeReturnsExactlyTheMissedSignalsThenLiveOnes()
    {
        var (engine, a, b) = await StartClusterAsync();
        await using var _ = engine;
        await using var __ = a;
        await using var ___ = b;

        var first = await a.ConnectAsync();
        await first.InvokeAsync("Subscribe", new { symbol = "BTCUSDT" });
        for (var seq = 1; seq <= 10; seq++)
        {
            await engine.PublishAsync(TestSignals.Signal("BTCUSDT", seq));
        }

        Assert.Equal(Range(1, 10), Seqs(await first.NextEventsAsync(HubNames.SignalEvent, 10)));
        await first.DisposeAsync();

        for (var seq = 11; seq <= 20; seq++)
        {
            await engine.PublishAsync(TestSignals.Signal("BTCUSDT", seq));
        }

        await using var resumed = await b.ConnectAsync();
        var live = Task.Run(async () =>
        {
            for (var seq = 21; seq <= 30; seq++)
            {
                await engine.PublishAsync(TestSignals.Signal("BTCUSDT", seq));
            }
        });
        var result = await resumed.InvokeAsync("Subscribe", new { symbol = "BTCUSDT", afterSeq = 10 });
        await live;

        Assert.True(result.GetProperty("recovered").GetBoolean());
        var returned = Seqs(result.GetProperty("signals").EnumerateArray());
        // With a store written in the background (PostgreSQL) node B may not have read 10 yet (latestSeq < afterSeq):
        // then nothing at or before the client's afterSeq is returned or streamed, and the live stream starts at 11.
        var joinedAt = Math.Max(result.GetProperty("latestSeq").GetInt64(), 10);
        Assert.Equal(Range(11, joinedAt), returned);
        var streamed = Seqs(await resumed.NextEventsAsync(HubNames.SignalEvent, (int)(30 - joinedAt)));
        Assert.Equal(Range(11, 30), returned.Concat(streamed)); // joined on seq: no gap, no duplicate
    }

    private protected static long[] OutcomeSeqs(IEnumerable<JsonElement> outcomes) => outcomes.Select(o => o.GetProperty("outcomeSeq").GetInt64()).ToArray();

    [Fact]
    public async Task AnOutcomeLostOnTheBusReachesTheHubNodesClientFromTheStoreOnce()
    {
        var (engine, a, b) = await StartClusterAsync("Hub:CatchUpInterval=00:00:01");
        await using var _ = engine;
        await using var __ = a;
        await using var ___ = b;
        await using var client = await a.ConnectAsync();
        await client.InvokeAsync("Subscribe", new { symbol = "BTCUSDT" });
        var signals = Enumerable.Range(1, 3).Select(seq => TestSignals.Signal("BTCUSDT", seq)).ToArray();
        foreach (var signal in signals)
        {
            await engine.PublishAsync(signal);
        }

        Assert.Equal(Range(1, 3), Seqs(await client.NextEventsAsync(HubNames.SignalEvent, 3)));
        try
        {
            await TestRedis.StopAsync();
            await engine.PublishOutcomeAsync(TestSignals.Outcome(signals[0], outcomeSeq: 1)); // lost on the bus: only the store has it
        }
        finally
        {
            await TestRedis.StartAsync();
        }

        // The catch-up after the bus came back (or the periodic one) finds outcomeSeq 1 in the store.
        Assert.Equal(new long[] { 1L }, OutcomeSeqs(await client.NextEventsAsync(HubNames.SignalResolvedEvent, 1, TimeSpan.FromSeconds(30))));

        // Lost again, then revealed by the next live outcome: delivered in order before it, and nothing twice.
        await TestRedis.StopAsync();
        try
        {
            await engine.PublishOutcomeAsync(TestSignals.Outcome(signals[1], outcomeSeq: 2));
        }
        finally
        {
            await TestRedis.StartAsync();
        }

        await engine.PublishOutcomeAsync(TestSignals.Outcome(signals[2], OutcomeKind.Loss, outcomeSeq: 3));
        Assert.Equal(new long[] { 2L, 3 }, OutcomeSeqs(await client.NextEventsAsync(HubNames.SignalResolvedEvent, 2, TimeSpan.FromSeconds(30))));
        await Task.Delay(TimeSpan.FromSeconds(2)); // two catch-ups
        Assert.False(client.TryNextEvent(out var extra), $"nothing after outcomeSeq 3, got {extra.Target}");
    }

    [Fact]
    public async Task ResumeWithAfterOutcomeSeqReturnsTheOutcomesResolvedWhileTheClientWasAway()
    {
        var (engine, a, b) = await StartClusterAsync();
        await using var _ = engine;
        await using var __ = a;
        await using var ___ = b;
        var first = await a.ConnectAsync();
        var joined = await first.InvokeAsync("Subscribe", new { symbol = "BTCUSDT" });
        Assert.Equal(0, joined.GetProperty("latestOutcomeSeq").GetInt64());
        Assert.Empty(joined.GetProperty("outcomes").EnumerateArray()); // not asked: nothing, as before
        var signal = TestSignals.Signal("BTCUSDT", 1);
        await engine.PublishAsync(signal);
        Assert.Equal(new long[] { 1L }, Seqs(await first.NextEventsAsync(HubNames.SignalEvent, 1)));
        await first.DisposeAsync();

        await engine.PublishOutcomeAsync(TestSignals.Outcome(signal, outcomeSeq: 1));

        foreach (var node in new[] { a, b })
        {
            await using var resumed = await node.ConnectAsync();
            var result = await resumed.InvokeAsync("Subscribe", new { symbol = "BTCUSDT", afterSeq = 1, afterOutcomeSeq = 0 });
            Assert.True(result.GetProperty("recovered").GetBoolean());
            Assert.Empty(result.GetProperty("signals").EnumerateArray());

            // Node A may not have taken outcomeSeq 1 off the bus yet (latestOutcomeSeq 0): then it comes live, right after.
            var recovered = result.GetProperty("outcomes").EnumerateArray().ToList();
            Assert.Equal(recovered.Count, result.GetProperty("latestOutcomeSeq").GetInt64());
            var outcome = Assert.Single(recovered.Count > 0 ? recovered : await resumed.NextEventsAsync(HubNames.SignalResolvedEvent, 1));
            Assert.Equal((1L, 1L, "win"), (outcome.GetProperty("outcomeSeq").GetInt64(), outcome.GetProperty("signalSeq").GetInt64(), outcome.GetProperty("outcome").GetString()));
        }

        await using var current = await b.ConnectAsync();
        var upToDate = await current.InvokeAsync("Subscribe", new { symbol = "BTCUSDT", afterSeq = 1, afterOutcomeSeq = 1 });
        Assert.Empty(upToDate.GetProperty("outcomes").EnumerateArray());
        var second = TestSignals.Signal("BTCUSDT", 2);
        await engine.PublishAsync(second);
        await engine.PublishOutcomeAsync(TestSignals.Outcome(second, outcomeSeq: 2));
        Assert.Equal(new long[] { 2L }, OutcomeSeqs(await current.NextEventsAsync(HubNames.SignalResolvedEvent, 1))); // live after the join, once
    }

    [Fact]
    public async Task ResumeBeyondTheBoundSaysSoAndReturnsTheNewest()
    {
        var (engine, a, b) = await StartClusterAsync("Hub:MaxRecoverySignals=5");
        await using var _ = engine;
        await using var __ = a;
        await using var ___ = b;
        for (var seq = 1; seq <= 12; seq++)
        {
            await engine.PublishAsync(TestSignals.Signal("BTCUSDT", seq));
        }

        await a.WaitUntilStoredAsync("BTCUSDT", 12); // nobody on node A subscribed yet: only its store has them
        await using var client = await a.ConnectAsync();
        var result = await client.InvokeAsync("Subscribe", new { symbol = "BTCUSDT", afterSeq = 2 });
        Assert.False(result.GetProperty("recovered").GetBoolean());
        Assert.Contains("more than the resume limit of 5", result.GetProperty("reason").GetString());
        Assert.Equal(Range(8, 12), Seqs(result.GetProperty("signals").EnumerateArray()));
    }

}

/// <summary>The scenarios on an in-memory <c>ISignalHistory</c> shared in-process, plus store-timing cases only it can stage.</summary>
[Collection(RedisCollection.Name)]
public sealed class ScaleOutTests : ScaleOutScenarios
{
    private protected override InMemorySignalHistory? NewSharedStore(out string[] settings)
    {
        settings = [];
        return new InMemorySignalHistory();
    }

    [Fact]
    public async Task HubNodeFillsAHoleFromTheStoreBeforeDeliveringPastItAndDropsDuplicates()
    {
        var store = new InMemorySignalHistory();
        var redis = TestServices.Redis;
        var prefix = "t" + Guid.NewGuid().ToString("N")[..8];
        await using var hub = await TestNode.StartAsync(store, "hub", redis, $"Hub:RedisChannelPrefix={prefix}", "Hub:CatchUpInterval=01:00:00");
        await using var client = await hub.ConnectAsync();
        await client.InvokeAsync("Subscribe", new { symbol = "BTCUSDT" });

        using var publisher = await StackExchange.Redis.ConnectionMultiplexer.ConnectAsync(redis);
        var channel = new StackExchange.Redis.RedisChannel($"{prefix}:BTCUSDT", StackExchange.Redis.RedisChannel.PatternMode.Literal);
        async Task PublishAsync(Signal signal) => await publisher.GetSubscriber().PublishAsync(
            channel, "{\"kind\":\"signal\",\"signal\":" + JsonSerializer.Serialize(signal, Contracts.Serialization.ContractsJsonContext.Default.Signal) + "}");

        var signals = Enumerable.Range(1, 6).Select(i => TestSignals.Signal("BTCUSDT", i)).ToArray();
        store.Append(signals[0]);
        await PublishAsync(signals[0]);
        Assert.Equal(new long[] { 1L }, Seqs(await client.NextEventsAsync(HubNames.SignalEvent, 1)));

        // seq 5 arrives while the store has only 1..3: the node waits for 4, then delivers 2..5 in order.
        store.Append(signals[1]);
        store.Append(signals[2]);
        await PublishAsync(signals[4]);
        Assert.Equal(new long[] { 2L, 3 }, Seqs(await client.NextEventsAsync(HubNames.SignalEvent, 2)));
        store.Append(signals[3]);
        store.Append(signals[4]);
        Assert.Equal(new long[] { 4L, 5 }, Seqs(await client.NextEventsAsync(HubNames.SignalEvent, 2)));

        await PublishAsync(signals[2]); // duplicate
        store.Append(signals[5]);
        await PublishAsync(signals[5]);
        Assert.Equal(new long[] { 6L }, Seqs(await client.NextEventsAsync(HubNames.SignalEvent, 1)));
    }
}

/// <summary>
/// The scenarios on the real PostgreSQL event store (a schema per test): the engine node's event writer appends each
/// signal, and hub nodes repair holes and serve resumes by reading it, as deployed nodes do.
/// </summary>
[Collection(RedisCollection.Name)]
public sealed class PostgresScaleOutTests : ScaleOutScenarios
{
    private protected override InMemorySignalHistory? NewSharedStore(out string[] settings)
    {
        settings = TestPostgres.FreshStoreSettings();
        return null;
    }
}

[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class RedisCollection
{
    public const string Name = "redis";
}
