using System.Net;
using System.Text;
using SignalStream.Contracts;
using SignalStream.Hub.Tests.Infrastructure;

namespace SignalStream.Hub.Tests.Hubs;

public sealed class LimitsTests
{
    [Fact]
    public async Task TooManySubscriptionsAreRefusedWithTheLimit()
    {
        await using var node = await TestNode.StartAsync(new InMemorySignalHistory(), settings: "Hub:MaxSubscriptionsPerConnection=2");
        await using var client = await node.ConnectAsync();
        await client.InvokeAsync("Subscribe", new { symbol = "BTCUSDT" });
        await client.InvokeAsync("SubscribeCandles", "BTCUSDT", "1m");
        var ex = await Assert.ThrowsAsync<HubErrorException>(() => client.InvokeAsync("Subscribe", new { symbol = "ETHUSDT" }));
        Assert.Contains("at most 2 subscriptions", ex.Message);

        // Re-subscribing to a symbol replaces the subscription rather than counting twice.
        await client.InvokeAsync("Subscribe", new { symbol = "BTCUSDT", minConfidence = 90 });
        await client.InvokeAsync("Unsubscribe", "BTCUSDT");
        await client.InvokeAsync("Subscribe", new { symbol = "ETHUSDT" });
    }

    [Fact]
    public async Task OversizedMessageClosesOnlyThatConnectionWithTheReason()
    {
        await using var node = await TestNode.StartAsync(new InMemorySignalHistory(), settings: "Hub:MaxMessageBytes=2048");
        await using var bystander = await node.ConnectAsync();
        await bystander.InvokeAsync("Subscribe", new { symbol = "BTCUSDT" });
        await using var client = await node.ConnectAsync();

        var huge = Encoding.UTF8.GetBytes($"{{\"type\":1,\"target\":\"Subscribe\",\"arguments\":[{{\"symbol\":\"{new string('X', 4000)}\"}}]}}");
        await client.SendRawAsync(huge, CancellationToken.None);
        var (error, _) = await client.Closed.WaitAsync(TimeSpan.FromSeconds(20));
        Assert.Contains("maximum message size of 2048B was exceeded", error);

        await node.PublishAsync(TestSignals.Signal("BTCUSDT", 1));
        Assert.Single(await bystander.NextEventsAsync(HubNames.SignalEvent, 1));
        using var http = node.Http();
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("/health/ready")).StatusCode);
    }

    [Fact]
    public async Task InvocationFloodIsRateLimitedAndOtherClientsAreServed()
    {
        await using var node = await TestNode.StartAsync(new InMemorySignalHistory(), settings: ["Hub:InvocationsPerSecond=0.01", "Hub:InvocationBurst=5"]);
        await using var flooder = await node.ConnectAsync();
        var results = await Task.WhenAll(Enumerable.Range(0, 30).Select(async _ =>
        {
            try
            {
                await flooder.InvokeAsync("Subscribe", new { symbol = "BTCUSDT" });
                return null;
            }
            catch (HubErrorException ex)
            {
                return ex.Message;
            }
        }));

        var refused = results.Where(m => m is not null).ToList();
        Assert.Equal(25, refused.Count); // the burst of 5 passes; the refill (one per 100 s) cannot add another in a test
        Assert.All(refused, m => Assert.Contains("Rate limit exceeded: at most 0.01 invocations per second", m));

        await using var other = await node.ConnectAsync();
        await other.InvokeAsync("Subscribe", new { symbol = "BTCUSDT" });
        await node.PublishAsync(TestSignals.Signal("BTCUSDT", 1));
        Assert.Single(await other.NextEventsAsync(HubNames.SignalEvent, 1));
    }

    [Fact]
    public async Task ConnectionsBeyondTheNodeLimitGet503WithAReason()
    {
        await using var node = await TestNode.StartAsync(new InMemorySignalHistory(), settings: "Hub:MaxConnections=1");
        await using var first = await node.ConnectAsync();
        using var http = node.Http();
        using var response = await http.PostAsync("/hubs/signals/negotiate?negotiateVersion=1", null);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        Assert.Contains("at most 1 connections", await response.Content.ReadAsStringAsync());
        await first.InvokeAsync("Subscribe", new { symbol = "BTCUSDT" });
    }

    [Theory]
    [InlineData("{\"symbol\":\"DOGEUSDT\"}", "not served here")]
    [InlineData("{\"symbol\":\"BTC-USDT\"}", "is not a symbol")]
    [InlineData("{\"symbol\":\"\"}", "symbol is required")]
    [InlineData("{\"symbol\":\"BTCUSDT\",\"timeframes\":[\"1H\"]}", "not a Binance interval name")]
    [InlineData("{\"symbol\":\"BTCUSDT\",\"timeframes\":[\"1w\"]}", "is not served here; served: 1m, 5m, 15m, 1h")]
    [InlineData("{\"symbol\":\"BTCUSDT\",\"minConfidence\":101}", "from 0 to 100")]
    [InlineData("{\"symbol\":\"BTCUSDT\",\"minConfidence\":-1}", "from 0 to 100")]
    [InlineData("{\"symbol\":\"BTCUSDT\",\"afterSeq\":-5}", "0 or more")]
    [InlineData("null", "Subscribe needs one argument")]
    [InlineData("\"BTCUSDT\"", "Error binding arguments")]
    public async Task InvalidSubscribeArgumentsGetActionableErrors(string argument, string expected)
    {
        await using var node = await TestNode.StartAsync(new InMemorySignalHistory());
        await using var client = await node.ConnectAsync();
        var raw = Encoding.UTF8.GetBytes($"{{\"type\":1,\"invocationId\":\"x1\",\"target\":\"Subscribe\",\"arguments\":[{argument}]}}");
        var completion = client.InvokeAsync("SubscribeCandles", "BTCUSDT", "2h"); // also invalid: proves ordering of replies
        var candleError = await Assert.ThrowsAsync<HubErrorException>(() => completion);
        Assert.Contains("timeframe '2h' is not served here", candleError.Message);

        var ex = await Assert.ThrowsAsync<HubErrorException>(() => InvokeRawAsync(client, argument));
        Assert.Contains(expected, ex.Message);
        await client.InvokeAsync("Subscribe", new { symbol = "BTCUSDT" }); // the connection is still usable
        _ = raw;
    }

    private static Task InvokeRawAsync(HubTestClient client, string argumentJson) =>
        client.InvokeAsync("Subscribe", System.Text.Json.JsonDocument.Parse(argumentJson).RootElement);
}
