using System.Net;
using System.Text.Json;
using SignalStream.Contracts;
using SignalStream.Hub.Tests.FanOut;

namespace SignalStream.Hub.Tests.Hostile;

/// <summary>
/// A hub node whose signal store stops answering (issue 14, item 8). An engine node writes the real PostgreSQL directly
/// and publishes over real Redis; the hub node reaches the same PostgreSQL through a loopback proxy that the test
/// holds, as a black-holed route holds it: the connection stays open, bytes go out and nothing comes back, so the
/// node's reads wait (a stopped server would refuse at once instead). Signals keep arriving over Redis meanwhile.
/// </summary>
[Collection(RedisCollection.Name)]
public sealed class StoreUnavailableTests
{
    private const string Symbol = "BTCUSDT";

    /// <summary>
    /// The store's answers to the hub node are held while a second client's Subscribe needs them (its ring of three
    /// signals does not reach back to seq 0); meanwhile 6..8 are published, and the first client of the same symbol
    /// receives them. Once the answers come, the second client gets exactly 1..8 (from the store, and from the ring what
    /// was delivered while it read), then live signals from 9: no gap, no duplicate.
    /// </summary>
    [Fact]
    public async Task OtherSubscribersKeepReceivingWhileASubscribeWaitsForTheStoreAndItJoinsWithoutGapOrDuplicate()
    {
        await using var cluster = await Cluster.StartAsync("Hub:History:ReadTimeout=00:02:00", "Hub:RecentSignalsPerSymbol=3");
        await using var first = await cluster.Hub.ConnectAsync();
        await first.InvokeAsync("Subscribe", new { symbol = Symbol });
        await cluster.PublishAsync(1, 5);
        Assert.Equal(new long[] { 1L, 2, 3, 4, 5 }, Seqs(await first.NextEventsAsync(HubNames.SignalEvent, 5)));
        await cluster.WaitUntilTheHubReadsAsync(5);

        cluster.Proxy.Hold(requests: false, responses: true);
        await using var second = await cluster.Hub.ConnectAsync();
        var subscribing = second.InvokeAsync("Subscribe", new { symbol = Symbol, afterSeq = 0 });
        await cluster.Proxy.TrafficHeld.WaitAsync(TimeSpan.FromSeconds(20));

        await cluster.PublishAsync(6, 8);
        Assert.Equal(new long[] { 6L, 7, 8 }, Seqs(await first.NextEventsAsync(HubNames.SignalEvent, 3)));
        Assert.False(subscribing.IsCompleted, "the second Subscribe was answered without the store");

        cluster.Proxy.Release();
        var result = await subscribing;
        Assert.True(result.GetProperty("recovered").GetBoolean(), result.ToString());
        Assert.Equal(8, result.GetProperty("latestSeq").GetInt64());
        Assert.Equal(new long[] { 1L, 2, 3, 4, 5, 6, 7, 8 }, Seqs(result.GetProperty("signals").EnumerateArray()));

        await cluster.PublishAsync(9, 9);
        Assert.Equal(new long[] { 9L }, Seqs(await second.NextEventsAsync(HubNames.SignalEvent, 1)));
        Assert.Equal(new long[] { 9L }, Seqs(await first.NextEventsAsync(HubNames.SignalEvent, 1)));
    }

    /// <summary>
    /// Past Hub:History:ReadTimeout a Subscribe that needs the store fails with a HubException that says so and to retry;
    /// it changes nothing: the other subscriber keeps receiving, a connection that was already subscribed keeps its
    /// subscription, and REST reads answer 503 problem+json. Once the store answers again, the same Subscribe succeeds.
    /// </summary>
    [Fact]
    public async Task ASubscribeThatCannotReadTheStoreInTimeGetsAClearErrorAndChangesNothingForAnyone()
    {
        // A ring of two signals: resuming from 0 needs the store.
        await using var cluster = await Cluster.StartAsync("Hub:History:ReadTimeout=00:00:02", "Hub:RecentSignalsPerSymbol=2");
        using var timeouts = new NodeCounter(cluster.Hub, "signalstream_history_reads_failed_total", new("reason", "timeout"));
        await using var first = await cluster.Hub.ConnectAsync();
        await first.InvokeAsync("Subscribe", new { symbol = Symbol });
        await cluster.PublishAsync(1, 3);
        Assert.Equal(new long[] { 1L, 2, 3 }, Seqs(await first.NextEventsAsync(HubNames.SignalEvent, 3)));

        cluster.Proxy.Hold();
        await using var second = await cluster.Hub.ConnectAsync();
        var refused = await Assert.ThrowsAsync<HubErrorException>(() => second.InvokeAsync("Subscribe", new { symbol = Symbol, afterSeq = 0 }));
        // SignalR puts "An unexpected error occurred invoking 'Subscribe' on the server. HubException: " before the message.
        Assert.Contains("HubException: signal history is unavailable: ", refused.Message, StringComparison.Ordinal);
        Assert.Contains("did not answer within 2 s; retry", refused.Message, StringComparison.Ordinal);

        var resubscribe = await Assert.ThrowsAsync<HubErrorException>(() => first.InvokeAsync("Subscribe", new { symbol = Symbol, afterSeq = 0 }));
        Assert.Contains("HubException: signal history is unavailable: ", resubscribe.Message, StringComparison.Ordinal);

        using (var http = cluster.Hub.Http())
        {
            foreach (var path in new[] { $"/api/signals?symbol={Symbol}&afterSeq=0", $"/api/signals/latest?symbol={Symbol}", $"/api/candles?symbol={Symbol}&timeframe=1m", "/api/symbols" })
            {
                using var response = await http.GetAsync(path);
                Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
                Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
                Assert.NotNull(response.Headers.RetryAfter);
                Assert.StartsWith("signal history is unavailable: ", JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("detail").GetString(), StringComparison.Ordinal);
            }
        }

        await cluster.PublishAsync(4, 5);
        Assert.Equal(new long[] { 4L, 5 }, Seqs(await first.NextEventsAsync(HubNames.SignalEvent, 2)));
        Assert.True(timeouts.Value >= 6, $"{timeouts.Value} timed-out store reads counted"); // two Subscribes, four REST reads

        cluster.Proxy.Release();
        await cluster.WaitUntilTheHubReadsAsync(5);
        var result = await second.InvokeAsync("Subscribe", new { symbol = Symbol, afterSeq = 0 });
        Assert.True(result.GetProperty("recovered").GetBoolean(), result.ToString());
        Assert.Equal(new long[] { 1L, 2, 3, 4, 5 }, Seqs(result.GetProperty("signals").EnumerateArray()));
        await cluster.PublishAsync(6, 6);
        Assert.Equal(new long[] { 6L }, Seqs(await second.NextEventsAsync(HubNames.SignalEvent, 1)));
        Assert.Equal(new long[] { 6L }, Seqs(await first.NextEventsAsync(HubNames.SignalEvent, 1)));
    }

    [Theory]
    [InlineData("Hub:History:ReadTimeout=00:00:00")]
    [InlineData("Hub:History:ReadTimeout=01:00:00")]
    public async Task AnOutOfRangeReadTimeoutStopsTheNodeAtStartNamingTheKey(string setting)
    {
        var error = await Assert.ThrowsAnyAsync<Exception>(() => TestNode.StartAsync(new InMemorySignalHistory(), settings: setting));
        Assert.Contains("Hub:History:ReadTimeout", error.Message, StringComparison.Ordinal);
    }

    private static long[] Seqs(IEnumerable<JsonElement> signals) => signals.Select(s => s.GetProperty("seq").GetInt64()).ToArray();

    /// <summary>An engine node on PostgreSQL, and a hub node that reads the same schema through <see cref="Proxy"/>.</summary>
    private sealed class Cluster : IAsyncDisposable
    {
        private Cluster(TestNode engine, TestNode hub, LoopbackProxy proxy)
        {
            Engine = engine;
            Hub = hub;
            Proxy = proxy;
        }

        public TestNode Engine { get; }

        public TestNode Hub { get; }

        public LoopbackProxy Proxy { get; }

        public static async Task<Cluster> StartAsync(params string[] hubSettings)
        {
            var store = TestPostgres.FreshStoreSettings();
            var direct = TestServices.Postgres;
            var port = TestServices.PostgresPort;
            var proxy = new LoopbackProxy(new Uri($"tcp://127.0.0.1:{port}/"));
            var viaProxy = direct.Replace($"Port={port}", $"Port={proxy.BaseAddress.Port}", StringComparison.Ordinal);
            string[] hubStore = [.. store.Select(s => s.StartsWith("ConnectionStrings:Postgres=", StringComparison.Ordinal) ? "ConnectionStrings:Postgres=" + viaProxy : s)];

            var redis = TestServices.Redis;
            var prefix = "Hub:RedisChannelPrefix=t" + Guid.NewGuid().ToString("N")[..8];
            var engine = await TestNode.StartAsync(null, "engine", redis, [prefix, .. store]);
            // No periodic catch-up: the store reads on the hub node are the ones the test makes.
            var hub = await TestNode.StartAsync(null, "hub", redis, [prefix, .. hubStore, "Hub:CatchUpInterval=01:00:00", .. hubSettings]);
            return new Cluster(engine, hub, proxy);
        }

        public async Task PublishAsync(long from, long to)
        {
            for (var seq = from; seq <= to; seq++)
            {
                await Engine.PublishAsync(TestSignals.Signal(Symbol, seq));
            }
        }

        /// <summary>
        /// Waits until the hub node reads <paramref name="seq"/> as the symbol's last from the store: the engine node's
        /// writer commits in the background, and may still be committing what clients have received.
        /// </summary>
        public async Task WaitUntilTheHubReadsAsync(long seq)
        {
            using var http = Hub.Http();
            using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            while (true)
            {
                using var symbols = JsonDocument.Parse(await http.GetStringAsync("/api/symbols", deadline.Token));
                if (symbols.RootElement.EnumerateArray().Any(s => s.GetProperty("symbol").GetString() == Symbol && s.GetProperty("latestSeq").GetInt64() >= seq))
                {
                    return;
                }

                await Task.Delay(100, deadline.Token);
            }
        }

        public async ValueTask DisposeAsync()
        {
            Proxy.Release(); // so the hub node's store work ends and it stops promptly
            await Hub.DisposeAsync();
            await Engine.DisposeAsync();
            await Proxy.DisposeAsync();
        }
    }
}
