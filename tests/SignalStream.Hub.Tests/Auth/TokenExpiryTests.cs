using SignalStream.Hub.Tests.Infrastructure;

namespace SignalStream.Hub.Tests.Auth;

public sealed class TokenExpiryTests
{
    [Fact]
    public async Task ConnectionIsClosedWithReconnectAllowedWhenItsTokenExpires()
    {
        // Zero skew and a token with five seconds left (MinRemainingLifetime 1 s lets it in): enough for the handshake
        // and the subscribe on a loaded machine, then the node's expiry sweep (every second) closes it.
        await using var node = await TestNode.StartAsync(new InMemorySignalHistory(),
            settings: [.. TestJwt.Settings, "Auth:Jwt:ClockSkew=00:00:00", "Auth:Jwt:MinRemainingLifetime=00:00:01"]);
        await using var client = await HubTestClient.ConnectAsync(node.BaseAddress, TestJwt.Valid("\"*\"", exp: TestJwt.Now + 5));
        await client.InvokeAsync("Subscribe", new { symbol = "BTCUSDT" });

        var (error, allowReconnect) = await client.Closed.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Contains("access token expired", error);
        Assert.True(allowReconnect);
    }
}
