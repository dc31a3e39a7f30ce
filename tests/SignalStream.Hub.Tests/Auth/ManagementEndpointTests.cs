using System.Net;
using Microsoft.Extensions.Configuration;
using SignalStream.Hub.Hosting;
using SignalStream.Hub.Tests.Infrastructure;

namespace SignalStream.Hub.Tests.Auth;

public sealed class ManagementEndpointTests
{
    [Fact]
    public async Task WithoutTokensAndWithoutManagementUrlsMetricsAndHealthStayOnThePublicPort()
    {
        await using var node = await TestNode.StartAsync(new InMemorySignalHistory());
        using var http = node.Http();

        Assert.Equal(node.BaseAddress, node.ManagementAddress);
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("/metrics")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("/health/ready")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("/api/symbols")).StatusCode);
    }

    [Fact]
    public async Task ManagementUrlsMoveMetricsAndHealthOffThePublicPortWithoutTokensToo()
    {
        await using var node = await TestNode.StartAsync(new InMemorySignalHistory(), settings: TestJwt.ManagementUrls());
        using var http = node.Http();
        using var management = node.ManagementHttp();

        Assert.Equal(HttpStatusCode.NotFound, (await http.GetAsync("/metrics")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await http.GetAsync("/health/live")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("/api/symbols")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await management.GetAsync("/metrics")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await management.GetAsync("/health/live")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await management.GetAsync("/api/symbols")).StatusCode);
    }

    [Fact]
    public async Task TheMetricsPathSettingIsServedOnTheManagementPort()
    {
        await using var node = await TestNode.StartAsync(new InMemorySignalHistory(), settings: [.. TestJwt.Settings, "Observability:Path=/internal/prometheus"]);
        using var management = node.ManagementHttp();
        using var http = node.Http();

        Assert.Equal(HttpStatusCode.OK, (await management.GetAsync("/internal/prometheus")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await http.GetAsync("/internal/prometheus")).StatusCode);
    }

    [Fact]
    public void TokensWithoutManagementUrlsServeMetricsAndHealthOnLoopbackOnly()
    {
        var management = ManagementEndpoint.Resolve(Configuration("Auth:Mode=jwt"), "http://+:8080");

        Assert.True(management.IsSeparate);
        Assert.Equal("http://localhost:9180", management.Urls);
    }

    [Theory]
    [InlineData("http://+:8080", "Management:Urls=http://+:8080", "serves to clients too")]
    [InlineData("http://localhost:5080", "Management:Urls=http://127.0.0.1:0", "fixed port")]
    [InlineData("http://localhost:5080", "Management:Urls=unix:/tmp/signalstream.sock", "fixed port")]
    [InlineData("http://localhost:5080", "Management:Urls=ftp://+:21", "fixed port")]
    public void AManagementEndpointThatCannotWorkStopsStartWithTheKey(string urls, string setting, string message)
    {
        var error = Assert.Throws<InvalidOperationException>(() => ManagementEndpoint.Resolve(Configuration(setting), urls));

        Assert.Contains("Management:Urls", error.Message, StringComparison.Ordinal);
        Assert.Contains(message, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void KestrelEndpointsCannotBeCombinedWithASeparateManagementEndpoint()
    {
        var configuration = Configuration("Auth:Mode=jwt", "Kestrel:Endpoints:Http:Url=http://+:8080");

        var error = Assert.Throws<InvalidOperationException>(() => ManagementEndpoint.Resolve(configuration, "http://localhost:5080"));
        Assert.Contains("Kestrel:Endpoints", error.Message, StringComparison.Ordinal);
    }

    private static IConfiguration Configuration(params string[] settings) => new ConfigurationBuilder()
        .AddInMemoryCollection(settings.Select(s => s.Split('=', 2)).Select(p => new KeyValuePair<string, string?>(p[0], p[1])))
        .Build();
}
