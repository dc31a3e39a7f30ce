using System.Diagnostics.Metrics;
using Microsoft.Extensions.DependencyInjection;
using SignalStream.Hub.Tests.Observability;

namespace SignalStream.Hub.Tests.MetricsExporter;

public sealed class MetricsEndpointTests
{
    [Fact]
    public async Task ScrapeDuringARunPassesPromtoolCheckMetrics()
    {
        var promtool = ExternalTool.Require("promtool");
        await using var server = await TestServer.StartAsync(TestServer.SimulatedRun);
        using var meter = ContractMetrics.Emit(server.Services.GetRequiredService<IMeterFactory>());
        (await server.Http.GetAsync(new Uri("/health/live", UriKind.Relative)).WaitAsync(TimeSpan.FromSeconds(30))).EnsureSuccessStatusCode();

        using var response = await server.Http.GetAsync(new Uri("/metrics", UriKind.Relative)).WaitAsync(TimeSpan.FromSeconds(30));
        var text = await response.Content.ReadAsStringAsync().WaitAsync(TimeSpan.FromSeconds(30));
        var (exitCode, output) = await ExternalTool.RunAsync(promtool, ["check", "metrics"], text);

        Assert.Equal("text/plain; version=0.0.4; charset=utf-8", response.Content.Headers.ContentType!.ToString());
        Assert.True(exitCode == 0, $"promtool check metrics exited {exitCode}:\n{output}");
        Assert.NotEmpty(ExpositionParser.Parse(text));
    }

    [Fact]
    public async Task ContractAspNetCoreKestrelRuntimeAndProcessMetricsAreExported()
    {
        await using var server = await TestServer.StartAsync(TestServer.SimulatedRun);
        using var meter = ContractMetrics.Emit(server.Services.GetRequiredService<IMeterFactory>());
        (await server.Http.GetAsync(new Uri("/health/live", UriKind.Relative)).WaitAsync(TimeSpan.FromSeconds(30))).EnsureSuccessStatusCode();

        var families = ExpositionParser.Parse(await server.ScrapeAsync());

        foreach (var name in ContractMetrics.Names)
        {
            Assert.True(families.ContainsKey(name), $"{name} is not exported");
        }

        Assert.Equal("histogram", families["http_server_request_duration_seconds"].Type);
        Assert.Contains(families["http_server_request_duration_seconds"].Samples, s => s.Label("http_route") == "/health/live");
        Assert.Equal("gauge", families["kestrel_active_connections"].Type);
        Assert.Equal("counter", families["dotnet_gc_collections_total"].Type);
        Assert.Equal("gauge", families["dotnet_thread_pool_thread_count_value"].Type);
        Assert.Equal("gauge", families["dotnet_thread_pool_queue_length"].Type);
        Assert.Equal(1, families["signalstream_node_roles"].Samples.Single(s => s.Label("role") == "hub").Value);
        Assert.Equal(1, families["signalstream_node_roles"].Samples.Single(s => s.Label("role") == "engine").Value);
        Assert.Equal(1, Assert.Single(families["signalstream_build_info"].Samples).Value);
    }
}
