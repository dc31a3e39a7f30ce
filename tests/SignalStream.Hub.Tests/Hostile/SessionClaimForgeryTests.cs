using SignalStream.Hub.Auth;
using SignalStream.Hub.Tests.Infrastructure;

namespace SignalStream.Hub.Tests.Hostile;

/// <summary>
/// The session end a connection is closed at is a claim the node adds to the principal. A token that brings a claim
/// of that name itself (to stay connected long after its <c>exp</c>) has it dropped: the node's own value counts.
/// </summary>
public sealed class SessionClaimForgeryTests
{
    [Fact]
    public async Task ATokenCannotChooseWhenItsConnectionIsClosed()
    {
        await using var node = await TestNode.StartAsync(new InMemorySignalHistory(),
            settings: [.. TestJwt.Settings, "Auth:Jwt:ClockSkew=00:00:00", "Auth:Jwt:MinRemainingLifetime=00:00:01"]);
        var forged = $",\"{Entitlements.SessionEndClaim}\":\"{DateTimeOffset.UtcNow.AddYears(1).ToUnixTimeMilliseconds()}\"";
        await using var client = await HubTestClient.ConnectAsync(node.BaseAddress, TestJwt.Valid("\"*\"", exp: TestJwt.Now + 4, extra: forged));
        await client.InvokeAsync("Subscribe", new { symbol = "BTCUSDT" });

        var (error, allowReconnect) = await client.Closed.WaitAsync(TimeSpan.FromSeconds(60));

        Assert.Contains("access token expired", error);
        Assert.True(allowReconnect);
    }
}
