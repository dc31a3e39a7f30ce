using SignalStream.Contracts;

namespace SignalStream.Hub.Tests.Hostile;

/// <summary>
/// A connection counts against <c>Hub:MaxConnections</c> from its upgrade request on, not from the end of its SignalR
/// handshake, and one that does not finish the handshake within <c>Hub:HandshakeTimeout</c> is dropped and its slot
/// given back. (Before, 200 silent upgrades were accepted with <c>Hub:MaxConnections=3</c>.)
/// </summary>
public sealed class AdmissionTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task UpgradesThatNeverFinishTheHandshakeCountAgainstMaxConnections()
    {
        await using var node = await TestNode.StartAsync(new InMemorySignalHistory(), settings: ["Hub:MaxConnections=3", "Hub:HandshakeTimeout=00:05:00"]);
        var silent = new List<RawHubSocket>();
        try
        {
            for (var i = 0; i < 3; i++)
            {
                var socket = await RawHubSocket.OpenAsync(node.BaseAddress);
                silent.Add(socket);
                Assert.Equal(101, (await socket.UpgradeAsync()).Status); // upgraded, then never a handshake
            }

            using var fourth = await RawHubSocket.OpenAsync(node.BaseAddress);
            var (status, body) = await fourth.UpgradeAsync();
            Assert.Equal(503, status);
            Assert.Contains("at most 3 connections", body, StringComparison.Ordinal);
            await Assert.ThrowsAnyAsync<Exception>(() => node.ConnectAsync());
        }
        finally
        {
            foreach (var socket in silent)
            {
                socket.Dispose();
            }
        }

        // Gone, they give their slots back.
        await node.WaitUntilEmptyAsync();
        await using var client = await node.ConnectAsync();
        await client.InvokeAsync("Subscribe", new { symbol = "BTCUSDT" });
    }

    [Fact]
    public async Task AnUpgradeThatNeverSendsItsHandshakeIsDroppedAfterTheHandshakeTimeoutAndItsSlotGivenBack()
    {
        await using var node = await TestNode.StartAsync(new InMemorySignalHistory(), settings: ["Hub:MaxConnections=1", "Hub:HandshakeTimeout=00:00:01"]);
        using var metrics = new NodeMetrics(node);
        using var silent = await RawHubSocket.OpenAsync(node.BaseAddress);
        Assert.Equal(101, (await silent.UpgradeAsync()).Status);

        await silent.ReadUntilClosedAsync(Wait); // the node ends the connection; the client never said a word
        Assert.True(silent.ServerClosed);
        Assert.Equal(1, metrics.Counter("signalstream_hub_handshake_timeouts_total"));

        await node.WaitUntilEmptyAsync();
        await using var client = await node.ConnectAsync();
        await client.InvokeAsync("Subscribe", new { symbol = "BTCUSDT" });
    }

    [Fact]
    public async Task AHandshakeSentHalfwayAndThenStalledIsDroppedToo()
    {
        await using var node = await TestNode.StartAsync(new InMemorySignalHistory(), settings: ["Hub:HandshakeTimeout=00:00:01"]);
        using var metrics = new NodeMetrics(node);
        using var slow = await RawHubSocket.OpenAsync(node.BaseAddress);
        Assert.Equal(101, (await slow.UpgradeAsync()).Status);
        await slow.SendFrameAsync(0x1, fin: true, "{\"protocol\":\"js"u8); // no record separator: the handshake never ends

        await slow.ReadUntilClosedAsync(Wait);
        Assert.True(slow.ServerClosed);
        Assert.Equal(1, metrics.Counter("signalstream_hub_handshake_timeouts_total"));
        await node.WaitUntilEmptyAsync();
    }

    [Fact]
    public async Task ClientsThatFinishTheirHandshakeInTimeAreServed()
    {
        await using var node = await TestNode.StartAsync(new InMemorySignalHistory(), settings: ["Hub:HandshakeTimeout=00:00:01", "Hub:MaxConnections=2"]);
        using var metrics = new NodeMetrics(node);
        await using var first = await node.ConnectAsync();
        await using var second = await node.ConnectAsync();
        await first.InvokeAsync("Subscribe", new { symbol = "BTCUSDT" });
        await Task.Delay(TimeSpan.FromSeconds(2)); // past the handshake timeout: nothing happens to connected clients

        await node.PublishAsync(TestSignals.Signal("BTCUSDT", 1));
        Assert.Single(await first.NextEventsAsync(HubNames.SignalEvent, 1));
        Assert.False(second.IsClosed);
        Assert.Equal(0, metrics.Counter("signalstream_hub_handshake_timeouts_total"));
    }
}
