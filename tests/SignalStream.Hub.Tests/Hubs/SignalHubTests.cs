using System.IO.Pipelines;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using SignalStream.Contracts;
using SignalStream.Hub.FanOut;
using SignalStream.Hub.Tests.Infrastructure;

namespace SignalStream.Hub.Tests.Hubs;

public sealed class SignalHubTests
{
    [Fact]
    public async Task SubscriberReceivesPublishedSignalsInOrder()
    {
        var store = new InMemorySignalHistory();
        await using var node = await TestNode.StartAsync(store);
        await using var client = await node.ConnectAsync();

        var result = await client.InvokeAsync("Subscribe", new { symbol = "btcusdt" });
        Assert.Equal("BTCUSDT", result.GetProperty("symbol").GetString());
        Assert.True(result.GetProperty("recovered").GetBoolean());
        Assert.Equal(0, result.GetProperty("signals").GetArrayLength());

        for (var seq = 1; seq <= 5; seq++)
        {
            await node.PublishAsync(TestSignals.Signal("BTCUSDT", seq));
        }

        var signals = await client.NextEventsAsync(HubNames.SignalEvent, 5);
        Assert.Equal([1L, 2, 3, 4, 5], signals.Select(s => s.GetProperty("seq").GetInt64()));
        Assert.Equal("1m", signals[0].GetProperty("timeframe").GetString());
        Assert.Equal("short", signals[0].GetProperty("direction").GetString());
        Assert.True(signals[0].GetProperty("publishedAt").GetInt64() > 0);
    }

    [Fact]
    public async Task ACandleSubscriptionThatCompletesAfterItsConnectionWasRemovedLeavesNothingInTheFeed()
    {
        // SubscribeCandles in the order the race runs it: the connection's own entry, then (on a bus node, after the
        // first subscriber's bus subscription was awaited) the feed's; the connection is removed in between. Before, the
        // removal found nothing in the feed to take, and the dead connection was added to it for good.
        await using var node = await TestNode.StartAsync(new InMemorySignalHistory());
        var registry = node.Registry();
        var feeds = node.App.Services.GetRequiredService<SymbolFeeds>();
        var pipe = new PipeHubConnection("racing", new PipeOptions(useSynchronizationContext: false));
        var connection = registry.Add(pipe.Context);
        var stream = new StreamKey("BTCUSDT", Timeframe.OneMinute);
        Assert.Equal(0, connection.TryAddCandleSubscription(stream, limit: 10));

        await registry.RemoveAsync(pipe.Context);
        await feeds.AddCandleSubscriberAsync(stream, connection, CancellationToken.None);

        Assert.False(feeds.Find("BTCUSDT")!.HasCandleSubscribers(Timeframe.OneMinute),
            "a connection removed while its candle subscription was on its way stays in the feed");
    }
}
