using Microsoft.Extensions.DependencyInjection;
using SignalStream.Contracts;
using SignalStream.Hub.Hubs;
using SignalStream.Hub.Hubs.Internal;
using SignalStream.Hub.Tests.Infrastructure;

namespace SignalStream.Hub.Tests.Hubs;

/// <summary>
/// "Slow" means "this client makes no progress", not "the node is momentarily behind": a client that stops reading is
/// cut off with a reason on the wire, and clients that read are not cut by a burst however large.
/// </summary>
public sealed class SlowConsumerTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);

    /// <summary>Both send paths: the node writing the socket itself, and SignalR's pipe (TLS and other transports).</summary>
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task ClientThatStopsReadingIsCutOffWithAReasonItReadsWhenItReadsAgain(bool directSocketSends)
    {
        await using var node = await TestNode.StartAsync(new InMemorySignalHistory(), settings: ["Hub:SlowConsumerMaxLag=00:00:00.300", $"Hub:DirectSocketSends={directSocketSends}"]);
        using var cuts = new SlowConsumerCounter(node);
        await using var clients = await ReaderAndNonReader.ConnectAsync(node, "BTCUSDT");
        var (healthy, slow) = (clients.Reader, clients.NonReader);

        // Until the node has cut the non-reader: its transport then takes nothing for 300 ms.
        const int batch = 8;
        var signals = await cuts.PublishUntilCutAsync(node, healthy, "BTCUSDT");
        var count = signals.Count;

        Assert.Equal(1, cuts.Value);
        slow.ResumeReading();
        var (error, allowReconnect) = await slow.Closed.WaitAsync(Wait);
        Assert.NotNull(error);
        Assert.Contains("slow consumer", error, StringComparison.Ordinal);
        Assert.Contains("afterSeq", error, StringComparison.Ordinal);
        Assert.True(allowReconnect, "a cut-off client may reconnect and resume");

        // What the slow client did receive before its close is a gap-free prefix, so afterSeq resumes it exactly.
        var received = new List<long>();
        while (slow.TryNextEvent(out var item))
        {
            received.Add(item.Argument.GetProperty("seq").GetInt64());
        }

        Assert.Equal(Enumerable.Range(1, received.Count).Select(i => (long)i), received);

        for (var i = 0; i < batch; i++)
        {
            await node.PublishAsync(TestSignals.Signal("BTCUSDT", ++count)); // delivery to the others goes on
        }

        signals.AddRange(await healthy.NextEventsAsync(HubNames.SignalEvent, batch));
        Assert.Equal(Enumerable.Range(1, count).Select(i => (long)i), signals.Select(s => s.GetProperty("seq").GetInt64()));
        Assert.False(healthy.IsClosed, "the healthy client must stay connected");
    }

    /// <summary>
    /// The node lets go of a cut-off connection at once, but its socket stays until the client has taken what was sent:
    /// closed while the client still writes (its pings), the socket would be reset, and the reset throws away the
    /// backlog and the close that says why.
    /// </summary>
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task CutOffClientThatKeepsPingingAndReadsLaterStillReadsWhy(bool directSocketSends)
    {
        await using var node = await TestNode.StartAsync(new InMemorySignalHistory(), settings: ["Hub:SlowConsumerMaxLag=00:00:00.300", $"Hub:DirectSocketSends={directSocketSends}"]);
        using var cuts = new SlowConsumerCounter(node);
        await using var clients = await ReaderAndNonReader.ConnectAsync(node, "BTCUSDT");
        var slow = clients.NonReader;
        await cuts.PublishUntilCutAsync(node, clients.Reader, "BTCUSDT");

        for (var i = 0; i < 3; i++)
        {
            await Task.Delay(TimeSpan.FromMilliseconds(300));
            await slow.SendRawAsync("{\"type\":6}"u8.ToArray(), CancellationToken.None); // a ping, as SignalR clients send
        }

        slow.ResumeReading();
        var (error, _) = await slow.Closed.WaitAsync(Wait);
        Assert.NotNull(error);
        Assert.Contains("slow consumer", error, StringComparison.Ordinal);
    }

    /// <summary>The cut-off close message of a MessagePack client is a MessagePack record, on both send paths, and what
    /// it received before it is a gap-free prefix.</summary>
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task AMessagePackClientThatStopsReadingIsCutOffWithAReasonItReads(bool directSocketSends)
    {
        await using var node = await TestNode.StartAsync(new InMemorySignalHistory(), settings: ["Hub:SlowConsumerMaxLag=00:00:00.300", $"Hub:DirectSocketSends={directSocketSends}"]);
        using var cuts = new SlowConsumerCounter(node);
        await using var reader = await node.ConnectAsync();
        await reader.InvokeAsync("Subscribe", new { symbol = "BTCUSDT" });
        using var slow = await RawHubSocket.ConnectAsync(node.BaseAddress, receiveBufferBytes: 4096, protocol: "messagepack");
        await slow.InvokeMessagePackAsync("1", "Subscribe", new { symbol = "BTCUSDT" });
        Assert.Equal("BTCUSDT", (await slow.ReadCompletionAsync("1")).GetProperty("result").GetProperty("symbol").GetString());
        slow.KeepAlive(); // MessagePack pings: it stopped reading, not talking

        await cuts.PublishUntilCutAsync(node, reader, "BTCUSDT");
        var records = (await slow.ReadUntilClosedAsync(Wait)).Select(slow.AsJson).ToList();

        Assert.Equal(1, cuts.Value);
        Assert.NotNull(slow.CloseError);
        Assert.Contains("slow consumer", slow.CloseError, StringComparison.Ordinal);
        Assert.Contains("afterSeq", slow.CloseError, StringComparison.Ordinal);
        Assert.True(records.First(r => r.GetProperty("type").GetInt32() == 7).GetProperty("allowReconnect").GetBoolean()); // SignalR's own may follow
        var received = records
            .Where(r => r.GetProperty("type").GetInt32() == 1 && r.GetProperty("target").GetString() == HubNames.SignalEvent)
            .Select(r => r.GetProperty("arguments")[0].GetProperty("seq").GetInt64())
            .ToList();
        Assert.Equal(Enumerable.Range(1, received.Count).Select(i => (long)i), received);
    }

    [Fact]
    public async Task ClientsThatReadAreNotCutOffByABurstLargerThanTheOldMessageBound()
    {
        // 3,000 signals at once, far above the 1,024 queued messages that used to count as "slow" (and cut most fast
        // clients of a node that was merely behind): every reader receives all of them, in order, and stays.
        const int burst = 3_000;
        await using var node = await TestNode.StartAsync(new InMemorySignalHistory());
        var registry = node.App.Services.GetRequiredService<ConnectionRegistry>();
        using var cuts = new SlowConsumerCounter(node);
        var clients = new List<HubTestClient>();
        try
        {
            for (var i = 0; i < 3; i++)
            {
                var client = await node.ConnectAsync();
                clients.Add(client);
                await client.InvokeAsync("Subscribe", new { symbol = "BTCUSDT" });
            }

            for (var seq = 1; seq <= burst; seq++)
            {
                await node.PublishAsync(TestSignals.Signal("BTCUSDT", seq));
            }

            foreach (var client in clients)
            {
                var signals = await client.NextEventsAsync(HubNames.SignalEvent, burst, Wait);
                Assert.Equal(Enumerable.Range(1, burst).Select(i => (long)i), signals.Select(s => s.GetProperty("seq").GetInt64()));
                Assert.False(client.IsClosed);
            }

            Assert.Equal(0, cuts.Value);
            Assert.Equal(3, registry.Count);
        }
        finally
        {
            foreach (var client in clients)
            {
                await client.DisposeAsync();
            }
        }
    }

    [Fact]
    public void SlowConsumerMaxLagBelowOneTenthOfASecondIsRefusedWithAFix()
    {
        var problems = new SignalHubOptions { SlowConsumerMaxLag = TimeSpan.FromMilliseconds(10) }.Validate().ToList();
        var problem = Assert.Single(problems);
        Assert.Contains("Hub:SlowConsumerMaxLag", problem, StringComparison.Ordinal);
        Assert.Contains("00:00:05", problem, StringComparison.Ordinal);
    }

    [Fact]
    public void QueuedBytesBoundsBelowOneConnectionsAreRefusedWithTheirKeys()
    {
        var problem = Assert.Single(new SignalHubOptions { MaxQueuedBytes = 1024 }.Validate());
        Assert.StartsWith("Hub:MaxQueuedBytes is 1024; it must be 0 (no node-wide bound) or at least Hub:OutboundQueueBytes", problem, StringComparison.Ordinal);
        Assert.Empty(new SignalHubOptions { MaxQueuedBytes = 0 }.Validate());
        problem = Assert.Single(new SignalHubOptions { MaxQueuedBytesPerIp = 1024 }.Validate());
        Assert.StartsWith("Hub:MaxQueuedBytesPerIp is 1024; it must be 0 (no per-address bound) or at least Hub:OutboundQueueBytes", problem, StringComparison.Ordinal);
        Assert.Empty(new SignalHubOptions { MaxQueuedBytesPerIp = 0 }.Validate());
    }

    /// <summary>This node's <c>signalstream_hub_slow_consumer_disconnects_total</c>.</summary>
}
