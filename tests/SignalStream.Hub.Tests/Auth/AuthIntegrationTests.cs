using System.Net;
using System.Net.Http.Headers;
using System.Net.WebSockets;
using System.Text.Json;
using SignalStream.Contracts;
using SignalStream.Hub.Tests.Infrastructure;

namespace SignalStream.Hub.Tests.Auth;

public sealed class AuthIntegrationTests : IAsyncLifetime
{
    private TestNode _node = null!;

    public async Task InitializeAsync() => _node = await TestNode.StartAsync(new InMemorySignalHistory(), settings: TestJwt.Settings);

    public async Task DisposeAsync() => await _node.DisposeAsync();

    public static TheoryData<string, string> Attacks()
    {
        var parts = TestJwt.Valid().Split('.');
        return new TheoryData<string, string>
        {
            { "alg none", TestJwt.Encode("{\"alg\":\"none\"}") + "." + parts[1] + "." + parts[2] },
            { "wrong key", TestJwt.Sign("{\"alg\":\"HS256\"}", TestJwt.Payload(), key: "another-key-that-is-also-32-bytes-long") },
            { "tampered payload", parts[0] + "." + TestJwt.Encode(TestJwt.Payload("\"*\"")) + "." + parts[2] },
            { "expired", TestJwt.Valid(exp: TestJwt.Now - 600) },
            { "wrong audience", TestJwt.Sign("{\"alg\":\"HS256\"}", TestJwt.Payload(audience: "other-app")) },
            { "oversized", TestJwt.Valid(symbols: "[\"" + new string('A', 4500) + "\"]") },
        };
    }

    [Theory]
    [MemberData(nameof(Attacks))]
    public async Task AttackTokensAreRefusedWithAReasonAndTheServerStaysHealthy(string attack, string token)
    {
        using var http = _node.Http();
        using var request = new HttpRequestMessage(HttpMethod.Post, "/hubs/signals/negotiate?negotiateVersion=1");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        using var response = await http.SendAsync(request);
        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        var body = await response.Content.ReadAsStringAsync();
        Assert.Contains("\"detail\"", body);
        Assert.Contains("invalid_token", response.Headers.WwwAuthenticate.ToString());

        // The WebSocket path with the token in the query is refused the same way.
        var ex = await Assert.ThrowsAnyAsync<WebSocketException>(() => HubTestClient.ConnectAsync(_node.BaseAddress, token));
        Assert.Contains("401", ex.Message);

        using var health = await http.GetAsync("/health/ready");
        Assert.Equal(HttpStatusCode.OK, health.StatusCode);
        _ = attack;
    }

    [Fact]
    public async Task MissingTokenIsRefused()
    {
        using var http = _node.Http();
        using var response = await http.PostAsync("/hubs/signals/negotiate?negotiateVersion=1", null);
        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Contains("access token is required", await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task EntitledSymbolIsServedAndOthersAreDeniedClearly()
    {
        await using var client = await HubTestClient.ConnectAsync(_node.BaseAddress, TestJwt.Valid("[\"BTCUSDT\"]"));
        var result = await client.InvokeAsync("Subscribe", new { symbol = "BTCUSDT" });
        Assert.Equal("BTCUSDT", result.GetProperty("symbol").GetString());

        var denied = await Assert.ThrowsAsync<HubErrorException>(() => client.InvokeAsync("Subscribe", new { symbol = "ETHUSDT" }));
        Assert.Contains("does not entitle you to ETHUSDT", denied.Message);
        Assert.Contains("BTCUSDT", denied.Message);

        await _node.PublishAsync(TestSignals.Make("BTCUSDT", 1));
        var signal = (await client.NextEventsAsync(HubNames.SignalEvent, 1))[0];
        Assert.Equal(1, signal.GetProperty("seq").GetInt64());
    }

    [Fact]
    public async Task TokenSubscriptionLimitApplies()
    {
        await using var client = await HubTestClient.ConnectAsync(_node.BaseAddress, TestJwt.Valid("\"*\"", extra: ",\"max_subscriptions\":1"));
        await client.InvokeAsync("Subscribe", new { symbol = "BTCUSDT" });
        var ex = await Assert.ThrowsAsync<HubErrorException>(() => client.InvokeAsync("Subscribe", new { symbol = "ETHUSDT" }));
        Assert.Contains("at most 1 subscriptions", ex.Message);
    }

    [Fact]
    public async Task RestRequiresATokenAndHonoursEntitlements()
    {
        using var http = _node.Http();
        using var anonymous = await http.GetAsync("/api/signals?symbol=BTCUSDT");
        Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);

        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", TestJwt.Valid("[\"BTCUSDT\"]"));
        using var allowed = await http.GetAsync("/api/signals?symbol=BTCUSDT");
        Assert.Equal(HttpStatusCode.OK, allowed.StatusCode);
        using var forbidden = await http.GetAsync("/api/signals?symbol=ETHUSDT");
        Assert.Equal(HttpStatusCode.Forbidden, forbidden.StatusCode);
        using var symbols = JsonDocument.Parse(await http.GetStringAsync("/api/symbols"));
        Assert.Equal(["BTCUSDT"], symbols.RootElement.EnumerateArray().Select(e => e.GetProperty("symbol").GetString()));
    }
}
