using System.Text.Json;
using SignalStream.Contracts;
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
}
