using Microsoft.Extensions.DependencyInjection;
using SignalStream.Contracts;
using SignalStream.Hub.FanOut.Internal;
using SignalStream.Hub.Hubs.Internal;
using SignalStream.Hub.Tests.Infrastructure;

namespace SignalStream.Hub.Tests.Hubs;

/// <summary>
/// A WebSocket client on plain TCP is written by the node itself (one send per message on the fan-out thread) unless
/// <c>Hub:DirectSocketSends</c> is off; either way it receives the same messages, in order, and its calls are answered.
/// </summary>
public sealed class SendPathTests
{
    [Theory]
    [InlineData(true, typeof(SocketClientOutput))]
    [InlineData(false, typeof(PipeClientOutput))]
    public async Task AWebSocketClientGetsTheConfiguredSendPathAndTheSameMessagesEitherWay(bool directSocketSends, Type expected)
    {
        await using var node = await TestNode.StartAsync(new InMemorySignalHistory(), settings: $"Hub:DirectSocketSends={directSocketSends}");
        var registry = node.App.Services.GetRequiredService<ConnectionRegistry>();
        await using var client = await node.ConnectAsync();
        var subscribed = await client.InvokeAsync("Subscribe", new { symbol = "ETHUSDT" });
        Assert.Equal("ETHUSDT", subscribed.GetProperty("symbol").GetString());

        Assert.IsType(expected, Assert.Single(registry.Open).Output);

        const int count = 500;
        for (var seq = 1; seq <= count; seq++)
        {
            await node.PublishAsync(TestSignals.Signal("ETHUSDT", seq));
        }

        var received = await client.NextEventsAsync(HubNames.SignalEvent, count);
        Assert.Equal(Enumerable.Range(1, count).Select(i => (long)i), received.Select(s => s.GetProperty("seq").GetInt64()));

        // Calls made between deliveries are still answered: SignalR's own writes share the socket with the fan-out's.
        // The signal published while unsubscribed comes once, in the answer or live: its symbol's loop may not have
        // taken it yet when the Subscribe joins (then it is delivered live to the new subscription). Either way once,
        // and before the next one.
        await client.InvokeAsync("Unsubscribe", "ETHUSDT");
        await node.PublishAsync(TestSignals.Signal("ETHUSDT", count + 1));
        var again = await client.InvokeAsync("Subscribe", new { symbol = "ETHUSDT", afterSeq = count });
        var seqs = again.GetProperty("signals").EnumerateArray().Select(s => s.GetProperty("seq").GetInt64()).ToList();
        await node.PublishAsync(TestSignals.Signal("ETHUSDT", count + 2));
        seqs.AddRange((await client.NextEventsAsync(HubNames.SignalEvent, 2 - seqs.Count)).Select(s => s.GetProperty("seq").GetInt64()));
        Assert.Equal([count + 1L, count + 2L], seqs);
    }
}
