using System.Net;
using SignalStream.Hub.Tests.Infrastructure;

namespace SignalStream.Hub.Tests.Hostile;

/// <summary>
/// With tokens on, metrics and health are for operators, not for whoever reaches the public port. Before: <c>/metrics</c>
/// and <c>/health/*</c> answered anyone there in <c>Auth:Mode=jwt</c>. Now they are served on the management endpoint
/// (<c>Management:Urls</c>) only, and that endpoint serves nothing else.
/// </summary>
public sealed class ManagementExposureTests
{
    [Fact]
    public async Task InJwtModeMetricsAndHealthAreOnlyOnTheManagementPort()
    {
        await using var node = await TestNode.StartAsync(new InMemorySignalHistory(), settings: TestJwt.Settings);
        Assert.NotEqual(node.BaseAddress.Port, node.ManagementAddress.Port);

        using var publicHttp = node.Http();
        using var management = node.ManagementHttp();
        foreach (var path in new[] { "/metrics", "/health/live", "/health/ready", "/HEALTH/live" })
        {
            Assert.Equal(HttpStatusCode.NotFound, (await publicHttp.GetAsync(path)).StatusCode);
        }

        var metrics = await management.GetAsync("/metrics");
        Assert.Equal(HttpStatusCode.OK, metrics.StatusCode);
        Assert.Contains("signalstream_hub_connections", await metrics.Content.ReadAsStringAsync());
        Assert.Equal(HttpStatusCode.OK, (await management.GetAsync("/health/live")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await management.GetAsync("/health/ready")).StatusCode);
    }

    [Fact]
    public async Task TheManagementPortServesNeitherTheApiNorTheHubNorTheDashboard()
    {
        await using var node = await TestNode.StartAsync(new InMemorySignalHistory(), settings: TestJwt.Settings);
        using var management = node.ManagementHttp();
        management.DefaultRequestHeaders.Authorization = new("Bearer", TestJwt.Valid("\"*\""));

        Assert.Equal(HttpStatusCode.NotFound, (await management.GetAsync("/api/symbols")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await management.PostAsync("/hubs/signals/negotiate?negotiateVersion=1", null)).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await management.GetAsync("/")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await management.GetAsync("/index.html")).StatusCode);
    }
}
