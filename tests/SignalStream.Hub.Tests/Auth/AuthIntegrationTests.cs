using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using SignalStream.Contracts;
using SignalStream.Hub.Tests.Infrastructure;

namespace SignalStream.Hub.Tests.Auth;

public sealed class AuthIntegrationTests : IAsyncLifetime
{
    private TestNode _node = null!;

    public async Task InitializeAsync() => _node = await TestNode.StartAsync(new InMemorySignalHistory(), settings: TestJwt.Settings);

    public async Task DisposeAsync() => await _node.DisposeAsync();

    [Fact]
    public async Task EntitledSymbolIsServedAndOthersAreDeniedClearly()
    {
        await using var client = await HubTestClient.ConnectAsync(_node.BaseAddress, TestJwt.Valid("[\"BTCUSDT\"]"));
        var result = await client.InvokeAsync("Subscribe", new { symbol = "BTCUSDT" });
        Assert.Equal("BTCUSDT", result.GetProperty("symbol").GetString());

        var denied = await Assert.ThrowsAsync<HubErrorException>(() => client.InvokeAsync("Subscribe", new { symbol = "ETHUSDT" }));
        Assert.Contains("does not entitle you to ETHUSDT", denied.Message);
        Assert.Contains("BTCUSDT", denied.Message);

        await _node.PublishAsync(TestSignals.Signal("BTCUSDT", 1));
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
