using System.Net;
using SignalStream.Hub.Tests.Infrastructure;

namespace SignalStream.Hub.Tests.Hostile;

/// <summary>
/// A token already past its <c>exp</c> but inside the clock skew. Before: accepted, then closed on the next expiry sweep
/// (the close used <c>exp</c>, the check <c>exp</c> + skew), and the client's reconnect with the same token did it again,
/// in a loop. Now one rule decides both: the session ends at <c>exp</c> + skew, a token with less than
/// <c>Auth:Jwt:MinRemainingLifetime</c> of it left is refused, and a connection is closed at its session end.
/// </summary>
public sealed class TokenNearExpiryTests
{
    [Fact]
    public async Task ATokenWithLessThanTheMinimumLifetimeLeftIsRefusedNotAcceptedAndClosed()
    {
        // Skew 30 s, exp 25 s ago: 5 s of session left, under the default 10 s minimum.
        await using var node = await TestNode.StartAsync(new InMemorySignalHistory(), settings: TestJwt.Settings);
        var token = TestJwt.Valid("\"*\"", exp: TestJwt.Now - 25);

        var answer = await AuthProbe.GetAsync(node, token);
        Assert.Equal(HttpStatusCode.Unauthorized, answer.Status);
        Assert.Equal("expires_too_soon", answer.Reason);
        Assert.Equal(401, await AuthProbe.ConnectStatusAsync(node, token));
    }

    [Fact]
    public async Task AConnectionAcceptedInsideTheSkewIsClosedAtExpPlusSkewNotAtOnce()
    {
        // Skew 8 s, exp 2 s ago: about 6 s of session left, over a 1 s minimum, so it is accepted.
        await using var node = await TestNode.StartAsync(new InMemorySignalHistory(),
            settings: [.. TestJwt.Settings, "Auth:Jwt:ClockSkew=00:00:08", "Auth:Jwt:MinRemainingLifetime=00:00:01"]);
        var exp = TestJwt.Now - 2;
        await using var client = await HubTestClient.ConnectAsync(node.BaseAddress, TestJwt.Valid("\"*\"", exp: exp));
        await client.InvokeAsync("Subscribe", new { symbol = "BTCUSDT" });

        var (error, allowReconnect) = await client.Closed.WaitAsync(TimeSpan.FromSeconds(60));
        var closedAt = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();

        Assert.Contains("access token expired", error);
        Assert.True(allowReconnect);
        // The same clock as the node's: the close was seen no earlier than the session end.
        Assert.True(closedAt >= (exp + 8) * 1000, $"closed {(exp + 8) * 1000 - closedAt} ms before exp + skew");
    }
}
