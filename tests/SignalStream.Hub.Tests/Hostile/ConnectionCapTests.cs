using System.Net;
using SignalStream.Contracts;

namespace SignalStream.Hub.Tests.Hostile;

/// <summary>
/// One address (<c>Hub:MaxConnectionsPerIp</c>) and one token subject (<c>Hub:MaxConnectionsPerSubject</c>) hold at
/// most so many connections; past that, 429 with the reason, and others are served. Loopback addresses 127.0.0.x stand
/// for different clients.
/// </summary>
public sealed class ConnectionCapTests
{
    private static readonly IPAddress First = IPAddress.Parse("127.0.0.1");
    private static readonly IPAddress Second = IPAddress.Parse("127.0.0.2");

    [Fact]
    public async Task AnAddressPastItsConnectionCapIsRefusedWith429AndOtherAddressesAreServed()
    {
        await using var node = await TestNode.StartAsync(new InMemorySignalHistory(), settings: ["Hub:MaxConnectionsPerIp=2"]);
        using var a = await RawHubSocket.ConnectAsync(node.BaseAddress, from: First);
        var b = await RawHubSocket.ConnectAsync(node.BaseAddress, from: First);

        using (var third = await RawHubSocket.OpenAsync(node.BaseAddress, from: First))
        {
            var (status, body) = await third.UpgradeAsync();
            Assert.Equal(429, status);
            Assert.Contains("already holds 2 connections", body, StringComparison.Ordinal);
            Assert.Contains("Hub:MaxConnectionsPerIp", body, StringComparison.Ordinal);
        }

        // Upgrades that never finish count too: the cap is not a handshake count.
        using (var silent = await RawHubSocket.OpenAsync(node.BaseAddress, from: Second))
        {
            Assert.Equal(101, (await silent.UpgradeAsync()).Status);
            using var other = await RawHubSocket.ConnectAsync(node.BaseAddress, from: Second);
            using var refused = await RawHubSocket.OpenAsync(node.BaseAddress, from: Second);
            Assert.Equal(429, (await refused.UpgradeAsync()).Status);
        }

        // One of the first address's connections leaves: its place is free again.
        b.Dispose();
        await WaitUntilAsync(() => node.Registry().Count == 1 && node.Registry().Admission.Open == 1);
        using var again = await RawHubSocket.ConnectAsync(node.BaseAddress, from: First);
        await again.InvokeAsync("1", "Subscribe", new { symbol = "BTCUSDT" });
        Assert.False((await again.ReadCompletionAsync("1")).TryGetProperty("error", out _));
    }

    [Fact]
    public async Task NegotiatePastTheAddressCapIsRefusedBeforeTheClientConnects()
    {
        await using var node = await TestNode.StartAsync(new InMemorySignalHistory(), settings: ["Hub:MaxConnectionsPerIp=1"]);
        await using var first = await node.ConnectAsync();
        using var http = node.Http();
        using var response = await http.PostAsync(new Uri("/hubs/signals/negotiate?negotiateVersion=1", UriKind.Relative), null);
        Assert.Equal(HttpStatusCode.TooManyRequests, response.StatusCode);
        Assert.NotNull(response.Headers.RetryAfter);
    }

    [Fact]
    public async Task ATokenSubjectPastItsConnectionCapIsRefusedWith429AndOtherSubjectsAreServed()
    {
        await using var node = await TestNode.StartAsync(new InMemorySignalHistory(), settings: [.. TestJwt.Settings, "Hub:MaxConnectionsPerSubject=1"]);
        var alice = Token("alice");
        using var first = await RawHubSocket.ConnectAsync(node.BaseAddress, accessToken: alice);

        using (var second = await RawHubSocket.OpenAsync(node.BaseAddress, from: Second, accessToken: alice))
        {
            var (status, body) = await second.UpgradeAsync();
            Assert.Equal(429, status);
            Assert.Contains("Hub:MaxConnectionsPerSubject", body, StringComparison.Ordinal);
        }

        await using var bob = await node.ConnectAsync(Token("bob"));
        await bob.InvokeAsync("Subscribe", new { symbol = "BTCUSDT" });
        await node.PublishAsync(TestSignals.Signal("BTCUSDT", 1));
        Assert.Single(await bob.NextEventsAsync(HubNames.SignalEvent, 1));
    }

    private static string Token(string subject) =>
        TestJwt.Sign("{\"alg\":\"HS256\",\"typ\":\"JWT\"}", TestJwt.Payload().Replace("\"sub\":\"user-1\"", $"\"sub\":\"{subject}\"", StringComparison.Ordinal));

    private static Task WaitUntilAsync(Func<bool> condition) => Poll.UntilAsync(condition, TimeSpan.FromSeconds(30), "the node's connection counts");
}
