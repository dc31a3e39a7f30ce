using System.Diagnostics;
using System.Net;
using System.Text.Json;

namespace SignalStream.Hub.Tests.Hostile;

/// <summary>
/// Negotiate is rate limited per client (<c>Hub:NegotiatesPerSecond</c>, <c>Hub:NegotiateBurst</c>): each negotiate
/// makes SignalR hold a connection until the client connects or SignalR drops it 15 s later, and nothing else bounds them
/// (the audit's client made the node hold 20,000 in 3 s). Past the limit: 429 with <c>Retry-After</c> naming the keys;
/// other addresses and the connects themselves are not limited.
/// </summary>
public sealed class NegotiateLimitTests
{
    private const string Negotiate = "/hubs/signals/negotiate?negotiateVersion=1";

    [Fact]
    public async Task ABurstOfNegotiatesPastTheLimitGets429sAndLeavesFewPendingConnectionsWhileAnotherAddressIsServed()
    {
        await using var node = await TestNode.StartAsync(new InMemorySignalHistory(), settings: ["Hub:NegotiatesPerSecond=1", "Hub:NegotiateBurst=5"]);
        using var refusals = new NodeCounter(node, "signalstream_hub_connections_refused_total", new("reason", "negotiate_rate"));
        using var hammer = node.HttpFrom(IPAddress.Loopback);

        var clock = Stopwatch.StartNew();
        var statuses = new HttpStatusCode[300];
        string? refusal = null;
        TimeSpan? retryAfter = null;
        await Parallel.ForEachAsync(Enumerable.Range(0, statuses.Length), new ParallelOptions { MaxDegreeOfParallelism = 8 }, async (i, ct) =>
        {
            using var response = await hammer.PostAsync(new Uri(Negotiate, UriKind.Relative), null, ct);
            statuses[i] = response.StatusCode;
            if (response.StatusCode == HttpStatusCode.TooManyRequests && refusal is null)
            {
                retryAfter = response.Headers.RetryAfter?.Delta;
                refusal = await response.Content.ReadAsStringAsync(ct);
            }
        });
        var elapsed = clock.Elapsed;

        // Every served negotiate is one connection SignalR now holds for this client: at most the burst plus one a second.
        var served = statuses.Count(s => s == HttpStatusCode.OK);
        var refused = statuses.Count(s => s == HttpStatusCode.TooManyRequests);
        Assert.Equal(statuses.Length, served + refused);
        Assert.InRange(served, 5, 5 + (int)Math.Ceiling(elapsed.TotalSeconds) + 1);
        Assert.Equal(refused, refusals.Value);
        Assert.NotNull(refusal);
        Assert.True(retryAfter >= TimeSpan.FromSeconds(1), $"Retry-After was {retryAfter}");
        using (var problem = JsonDocument.Parse(refusal))
        {
            Assert.Equal(429, problem.RootElement.GetProperty("status").GetInt32());
            Assert.Contains("at most 1 per second (bursts of 5) per client (Hub:NegotiatesPerSecond, Hub:NegotiateBurst)",
                problem.RootElement.GetProperty("detail").GetString(), StringComparison.Ordinal);
        }

        // Another address has its own bucket.
        using var other = node.HttpFrom(IPAddress.Parse("127.0.0.2"));
        for (var i = 0; i < 5; i++)
        {
            using var response = await other.PostAsync(new Uri(Negotiate, UriKind.Relative), null);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }

        // Only negotiate is limited: the hammering address still connects (WebSocket without negotiate) and is served.
        await using var client = await node.ConnectAsync();
        await client.InvokeAsync("Subscribe", new { symbol = "BTCUSDT" });
    }

    [Fact]
    public async Task WithTheLimitOffNegotiatesAreNotRefused()
    {
        await using var node = await TestNode.StartAsync(new InMemorySignalHistory(), settings: ["Hub:NegotiatesPerSecond=0", "Hub:NegotiateBurst=1"]);
        using var http = node.Http();
        for (var i = 0; i < 20; i++)
        {
            using var response = await http.PostAsync(new Uri(Negotiate, UriKind.Relative), null);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }
    }

    [Theory]
    [InlineData("Hub:NegotiatesPerSecond=-1", "Hub:NegotiatesPerSecond")]
    [InlineData("Hub:NegotiateBurst=0", "Hub:NegotiateBurst")]
    public async Task AnInvalidNegotiateLimitStopsTheNodeAtStartNamingTheKey(string setting, string key)
    {
        var error = await Assert.ThrowsAnyAsync<Exception>(() => TestNode.StartAsync(new InMemorySignalHistory(), settings: setting));
        Assert.Contains(key, error.Message, StringComparison.Ordinal);
    }
}
