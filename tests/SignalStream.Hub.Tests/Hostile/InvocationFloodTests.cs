using System.Net.Sockets;
using System.Text.Json;
using SignalStream.Contracts;

namespace SignalStream.Hub.Tests.Hostile;

/// <summary>
/// One unauthenticated connection that calls and calls: every byte the node holds for it stays within
/// <c>Hub:OutboundQueueBytes</c>, calls SignalR refuses itself count against the rate limit, a client whose refusals
/// outrun the rate is closed with a reason, no reply quotes more than a short prefix of what it sent, and everything
/// it held is given back when it leaves.
/// </summary>
public sealed class InvocationFloodTests
{
    private const int Bound = 128 * 1024;
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);
    private static readonly string HugeName = new('M', 30_000);

    /// <summary>What was reproduced against main: a 30 KB unknown method name in a loop, read slowly, grew the node by
    /// over a gigabyte and was never cut.</summary>
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task AnUnknownMethodFloodReadSlowlyIsClosedForFloodingWithinTheByteBoundAndGivesEverythingBack(bool directSocketSends)
    {
        await using var node = await TestNode.StartAsync(new InMemorySignalHistory(), settings: [$"Hub:OutboundQueueBytes={Bound}", $"Hub:DirectSocketSends={directSocketSends}"]);
        using var metrics = new NodeMetrics(node);
        using var flooder = await RawHubSocket.ConnectAsync(node.BaseAddress, receiveBufferBytes: 4096);
        var connection = await node.SingleConnectionAsync();

        var flooding = FloodAsync(flooder, count: 3_000, (i, s) => s.InvokeAsync(i.ToString(System.Globalization.CultureInfo.InvariantCulture), HugeName));
        var records = new List<byte[]>();
        using (var deadline = new CancellationTokenSource(Wait))
        {
            // A slow reader: a kilobyte now and then.
            while (!flooder.ServerClosed && !deadline.IsCancellationRequested)
            {
                await flooder.ReadSomeAsync(1024, TimeSpan.FromSeconds(1));
                await Task.Delay(20, CancellationToken.None);
            }

            records.AddRange(await flooder.ReadUntilClosedAsync());
        }

        await flooding.WaitAsync(Wait);
        Assert.True(flooder.ServerClosed, "the flooding client is closed");
        Assert.NotNull(flooder.CloseError);
        Assert.Contains("flooding", flooder.CloseError, StringComparison.Ordinal);
        Assert.Equal(1, metrics.Counter("signalstream_hub_flood_disconnects_total"));

        // No reply quotes the 30 KB name: each is a short error naming a prefix of it.
        var completions = records.Select(r => JsonDocument.Parse(r).RootElement).Where(r => r.GetProperty("type").GetInt32() == 3).ToList();
        Assert.NotEmpty(completions);
        Assert.All(records, r => Assert.True(r.Length < 600, $"a reply of {r.Length} bytes"));
        Assert.Contains(completions, c => c.GetProperty("error").GetString()!.Contains("Method does not exist", StringComparison.Ordinal));
        Assert.Contains(completions, c => c.GetProperty("error").GetString()!.Contains("Rate limit exceeded", StringComparison.Ordinal));

        Assert.InRange(connection.PeakQueuedBytes(), 0, Bound);
        await node.WaitUntilEmptyAsync();
        Assert.Equal(0, metrics.Gauge("signalstream_hub_queued_bytes"));
    }

    [Fact]
    public async Task RepliesPiledUpByAClientThatDoesNotReadCutItOffPastTheByteBoundWithAReason()
    {
        // No rate limit to speak of: only the byte bound stands between this client and the node's memory. Each call is
        // cheap and within the limits, but its reply is never read.
        await using var node = await TestNode.StartAsync(new InMemorySignalHistory(),
            settings: [$"Hub:OutboundQueueBytes={Bound}", "Hub:InvocationsPerSecond=1000000", "Hub:InvocationBurst=1000000"]);
        using var metrics = new NodeMetrics(node);
        using var client = await RawHubSocket.ConnectAsync(node.BaseAddress, receiveBufferBytes: 4096);
        var connection = await node.SingleConnectionAsync();

        await FloodAsync(client, count: 40_000, (i, s) => s.InvokeAsync(i.ToString(System.Globalization.CultureInfo.InvariantCulture), "NoSuchMethod"),
            until: () => metrics.Counter("signalstream_hub_queue_overflow_disconnects_total") > 0).WaitAsync(Wait);
        using (var deadline = new CancellationTokenSource(Wait))
        {
            while (metrics.Counter("signalstream_hub_queue_overflow_disconnects_total") == 0)
            {
                await Task.Delay(20, deadline.Token); // the node answers the calls it has taken in
            }
        }

        Assert.Equal(1, metrics.Counter("signalstream_hub_queue_overflow_disconnects_total"));
        await client.ReadUntilClosedAsync();
        Assert.NotNull(client.CloseError);
        Assert.Contains($"more than {Bound} bytes", client.CloseError, StringComparison.Ordinal);
        // Past the bound only the rest of a WebSocket message SignalR had begun (its transport sends what its pipe holds,
        // at most 64 KB, as one message) and the close message, which goes behind whatever waits.
        Assert.InRange(connection.PeakQueuedBytes(), Bound / 2, Bound + (64 * 1024) + 1024);
        await node.WaitUntilEmptyAsync();
    }

    [Fact]
    public async Task UnknownMethodsAndArgumentsThatDoNotBindSpendTheRateLimitLikeAnyCall()
    {
        await using var node = await TestNode.StartAsync(new InMemorySignalHistory(), settings: ["Hub:InvocationsPerSecond=0.01", "Hub:InvocationBurst=4"]);
        using var client = await RawHubSocket.ConnectAsync(node.BaseAddress);

        await client.InvokeAsync("1", "NoSuchMethod");
        await client.InvokeAsync("2", HugeName);
        await client.InvokeAsync("3", "Subscribe", "not an object");
        await client.InvokeAsync("4", "SubscribeCandles", 1, 2, 3);
        foreach (var id in new[] { "1", "2", "3", "4" })
        {
            Assert.DoesNotContain("Rate limit", (await client.ReadCompletionAsync(id)).GetProperty("error").GetString(), StringComparison.Ordinal);
        }

        // Four refused calls spent the burst of four: a valid call is now over the limit.
        await client.InvokeAsync("5", "Subscribe", new { symbol = "BTCUSDT" });
        Assert.Contains("Rate limit exceeded", (await client.ReadCompletionAsync("5")).GetProperty("error").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task AnErrorQuotesAShortPrefixOfAnUnknownMethodNameNotTheWholeOfIt()
    {
        await using var node = await TestNode.StartAsync(new InMemorySignalHistory());
        using var client = await RawHubSocket.ConnectAsync(node.BaseAddress);

        await client.InvokeAsync("1", HugeName);
        var error = (await client.ReadCompletionAsync("1")).GetProperty("error").GetString()!;

        Assert.Contains(new string('M', 64) + "…", error, StringComparison.Ordinal);
        Assert.DoesNotContain(new string('M', 65), error, StringComparison.Ordinal);
        Assert.Contains("does not exist", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AFloodPacedSoThatTokensKeepComingBackIsStillClosed()
    {
        // About 400 calls a second against a limit of 20: a token comes back every 50 ms, so refusals never ran 200 in a
        // row and the old rule never fired.
        await using var node = await TestNode.StartAsync(new InMemorySignalHistory());
        using var metrics = new NodeMetrics(node);
        using var flooder = await RawHubSocket.ConnectAsync(node.BaseAddress);

        var reading = flooder.ReadUntilClosedAsync(Wait);
        var sent = 0;
        using (var deadline = new CancellationTokenSource(Wait))
        {
            while (!flooder.ServerClosed && !deadline.IsCancellationRequested)
            {
                for (var i = 0; i < 10 && !flooder.ServerClosed; i++)
                {
                    await TrySendAsync(() => flooder.InvokeAsync((++sent).ToString(System.Globalization.CultureInfo.InvariantCulture), "Unsubscribe", "BTCUSDT"));
                }

                await Task.Delay(25, CancellationToken.None);
            }
        }

        await reading.WaitAsync(Wait);
        Assert.Contains("flooding", flooder.CloseError ?? "(no close message)", StringComparison.Ordinal);
        Assert.Equal(1, metrics.Counter("signalstream_hub_flood_disconnects_total"));
    }

    [Fact]
    public async Task AClientThatWaitsAfterARefusalIsRefusedButNeverClosed()
    {
        await using var node = await TestNode.StartAsync(new InMemorySignalHistory(), settings: ["Hub:InvocationsPerSecond=20", "Hub:InvocationBurst=40"]);
        using var metrics = new NodeMetrics(node);
        using var client = await RawHubSocket.ConnectAsync(node.BaseAddress);

        // 600 calls in bursts of ten, pausing 100 ms after each refusal: well over the limit for a while, but backing off.
        var refused = 0;
        for (var i = 1; i <= 600; i++)
        {
            var id = i.ToString(System.Globalization.CultureInfo.InvariantCulture);
            await client.InvokeAsync(id, "Unsubscribe", "BTCUSDT");
            var completion = await client.ReadCompletionAsync(id);
            if (completion.TryGetProperty("error", out var error))
            {
                Assert.Contains("Rate limit exceeded", error.GetString(), StringComparison.Ordinal);
                refused++;
                await Task.Delay(100);
            }
        }

        Assert.True(refused > 0, "the client went over the limit");
        Assert.False(client.ServerClosed, "a client that backs off is not closed");
        Assert.Null(client.CloseError);
        Assert.Equal(0, metrics.Counter("signalstream_hub_flood_disconnects_total"));
    }

    [Fact]
    public async Task RefusedCallsDoNotWriteAnErrorLogEach()
    {
        // SignalR logs every HubException a hub method throws as an error, with its stack: one line per refused call
        // would let any client fill the node's logs. Our own failures are logged by HubGuardFilter (5020).
        await using var server = await TestServer.StartAsync("--Node:Roles=all", "--Ingest:Source=simulated", "--Hub:InvocationsPerSecond=1000", "--Hub:InvocationBurst=1000");
        await using var client = await server.ConnectAsync();
        for (var i = 0; i < 50; i++)
        {
            await Assert.ThrowsAsync<HubErrorException>(() => client.InvokeAsync("Subscribe", new { symbol = "NOPE" + i }));
        }

        await Assert.ThrowsAsync<HubErrorException>(() => client.InvokeAsync("NoSuchMethod"));
        Assert.DoesNotContain(server.Logs.Entries, e => e.Level >= Microsoft.Extensions.Logging.LogLevel.Error);
    }

    [Fact]
    public async Task AnInvocationIdLongerThan64CharactersClosesTheConnectionWithTheReason()
    {
        await using var node = await TestNode.StartAsync(new InMemorySignalHistory());
        using var client = await RawHubSocket.ConnectAsync(node.BaseAddress);

        await client.InvokeAsync(new string('9', 20_000), "Unsubscribe", "BTCUSDT");
        var records = await client.ReadUntilClosedAsync();

        Assert.All(records, r => Assert.True(r.Length < 600, $"a reply of {r.Length} bytes"));
        Assert.Contains("invocationId is 20000 characters long; at most 64", client.CloseError ?? "(no close message)", StringComparison.Ordinal);

        await using var other = await node.ConnectAsync();
        await other.InvokeAsync("Subscribe", new { symbol = "BTCUSDT" });
        await node.PublishAsync(TestSignals.Signal("BTCUSDT", 1));
        Assert.Single(await other.NextEventsAsync(HubNames.SignalEvent, 1));
    }

    /// <summary>Sends <paramref name="count"/> calls as fast as the socket takes them, until the server ends the
    /// connection, the socket stops taking them, or <paramref name="until"/> holds.</summary>
    private static Task FloodAsync(RawHubSocket client, int count, Func<int, RawHubSocket, Task> send, Func<bool>? until = null) => Task.Run(async () =>
    {
        for (var i = 0; i < count && !client.ServerClosed && until?.Invoke() != true; i++)
        {
            if (!await TrySendAsync(() => send(i, client)))
            {
                return;
            }
        }
    });

    private static async Task<bool> TrySendAsync(Func<Task> send)
    {
        try
        {
            await send();
            return true;
        }
        catch (Exception ex) when (ex is SocketException or OperationCanceledException or ObjectDisposedException or IOException)
        {
            return false; // the server closed the connection, or stopped reading it
        }
    }
}
