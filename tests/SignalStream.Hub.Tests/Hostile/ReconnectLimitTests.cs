using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;

namespace SignalStream.Hub.Tests.Hostile;

/// <summary>
/// What one client costs across reconnects: its connect requests are rate limited (<c>Hub:ConnectsPerSecond</c>,
/// <c>Hub:ConnectBurst</c>), and a client closed for flooding or cut off as slow is refused new connections for
/// <c>Hub:ReconnectPenalty</c>. Before, every connect started over with fresh per-connection limits (the audit's client
/// reconnected at once after each cut, on all 200 connections its address may hold). Both answer 429 with
/// <c>Retry-After</c> naming the keys; other addresses are served meanwhile.
/// </summary>
public sealed class ReconnectLimitTests
{
    private static readonly IPAddress Other = IPAddress.Parse("127.0.0.2");

    [Fact]
    public async Task ConnectsPastTheLimitGet429sNamingTheKeysWhileAnotherAddressIsServed()
    {
        await using var node = await TestNode.StartAsync(new InMemorySignalHistory(), settings: ["Hub:ConnectsPerSecond=1", "Hub:ConnectBurst=3"]);
        using var refusals = new NodeCounter(node, "signalstream_hub_connections_refused_total", new("reason", "connect_rate"));
        var clock = Stopwatch.StartNew();
        var statuses = new List<int>();
        string? refusal = null;
        for (var i = 0; i < 12; i++)
        {
            var (status, body) = await UpgradeAsync(node, IPAddress.Loopback);
            statuses.Add(status);
            refusal ??= status == 429 ? body : null;
        }

        var served = statuses.Count(s => s == 101);
        Assert.Equal(statuses.Count, served + statuses.Count(s => s == 429));
        Assert.InRange(served, 3, 3 + (int)Math.Ceiling(clock.Elapsed.TotalSeconds) + 1);
        Assert.Equal(statuses.Count - served, refusals.Value);
        Assert.NotNull(refusal);
        using (var problem = JsonDocument.Parse(refusal))
        {
            Assert.Equal(429, problem.RootElement.GetProperty("status").GetInt32());
            Assert.True(problem.RootElement.GetProperty("retryAfterSeconds").GetInt32() >= 1);
            Assert.Contains("at most 1 per second (bursts of 3) per client (Hub:ConnectsPerSecond, Hub:ConnectBurst)",
                problem.RootElement.GetProperty("detail").GetString(), StringComparison.Ordinal);
        }

        // Another address has its own bucket.
        using var other = await RawHubSocket.ConnectAsync(node.BaseAddress, Other);
        await other.InvokeAsync("s", "Subscribe", new { symbol = "BTCUSDT" });
        await other.ReadCompletionAsync("s");
    }

    [Fact]
    public async Task AClientClosedForFloodingIsRefusedReconnectionForThePenaltyThenAccepted()
    {
        await using var node = await TestNode.StartAsync(new InMemorySignalHistory(), settings:
            ["Hub:InvocationsPerSecond=1", "Hub:InvocationBurst=1", "Hub:ReconnectPenalty=00:00:02"]);
        using var refusals = new NodeCounter(node, "signalstream_hub_connections_refused_total", new("reason", "reconnect_penalty"));
        using (var flooder = await RawHubSocket.ConnectAsync(node.BaseAddress, IPAddress.Loopback))
        {
            var reading = flooder.ReadUntilClosedAsync(TimeSpan.FromSeconds(30));
            for (var i = 0; i < 1_000 && !flooder.ServerClosed; i++)
            {
                if (!await TrySendAsync(() => flooder.InvokeAsync(i.ToString(CultureInfo.InvariantCulture), "Unsubscribe", "BTCUSDT")))
                {
                    break;
                }
            }

            await reading;
            Assert.Contains("flooding", flooder.CloseError ?? "(no close message)", StringComparison.Ordinal);
        }

        var closed = Stopwatch.StartNew();
        var (refused, refusal) = await UpgradeAsync(node, IPAddress.Loopback);
        Assert.True(refused == 429, $"a flooder reconnecting at once got {refused}");
        using (var problem = JsonDocument.Parse(refusal))
        {
            Assert.Contains("(Hub:ReconnectPenalty)", problem.RootElement.GetProperty("detail").GetString(), StringComparison.Ordinal);
            Assert.InRange(problem.RootElement.GetProperty("retryAfterSeconds").GetInt32(), 1, 2);
        }

        Assert.True(refusals.Value >= 1);
        using (var other = await RawHubSocket.ConnectAsync(node.BaseAddress, Other))
        {
            await other.InvokeAsync("s", "Subscribe", new { symbol = "BTCUSDT" });
            await other.ReadCompletionAsync("s");
        }

        // After the penalty the same address connects again.
        int status;
        while ((status = (await UpgradeAsync(node, IPAddress.Loopback)).Status) != 101)
        {
            Assert.Equal(429, status);
            Assert.True(closed.Elapsed < TimeSpan.FromSeconds(15), "still refused 15 s after a 2 s penalty");
            await Task.Delay(200);
        }

        Assert.True(closed.Elapsed > TimeSpan.FromSeconds(0.5), $"accepted again {closed.Elapsed} after the close, inside the 2 s penalty");
    }

    [Theory]
    [InlineData("Hub:ConnectsPerSecond=-1", "Hub:ConnectsPerSecond")]
    [InlineData("Hub:ConnectBurst=0", "Hub:ConnectBurst")]
    [InlineData("Hub:ReconnectPenalty=-00:00:01", "Hub:ReconnectPenalty")]
    public async Task AnInvalidReconnectLimitStopsTheNodeAtStartNamingTheKey(string setting, string key)
    {
        var error = await Assert.ThrowsAnyAsync<Exception>(() => TestNode.StartAsync(new InMemorySignalHistory(), settings: setting));
        Assert.Contains(key, error.Message, StringComparison.Ordinal);
    }

    /// <summary>A WebSocket upgrade from <paramref name="from"/>, closed once answered.</summary>
    private static async Task<(int Status, string Body)> UpgradeAsync(TestNode node, IPAddress from)
    {
        using var client = await RawHubSocket.OpenAsync(node.BaseAddress, from);
        return await client.UpgradeAsync();
    }

    private static async Task<bool> TrySendAsync(Func<Task> send)
    {
        try
        {
            await send();
            return true;
        }
        catch (Exception ex) when (ex is SocketException or OperationCanceledException or ObjectDisposedException or IOException)
        {
            return false; // the server closed the connection
        }
    }
}
