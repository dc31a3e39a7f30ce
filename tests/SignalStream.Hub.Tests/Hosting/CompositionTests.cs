using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using SignalStream.Engine;
using SignalStream.Engine.Inference.Internal;
using SignalStream.Engine.Pipeline;
using SignalStream.EventStore;
using SignalStream.Hub.FanOut;
using SignalStream.Hub.Hosting;
using SignalStream.Hub.Hubs.Internal;
using SignalStream.Hub.Notifications;
using SignalStream.Hub.Webhooks;
using SignalStream.Ingest;
using SignalStream.Ingest.Binance;

namespace SignalStream.Hub.Tests.Hosting;

/// <summary>
/// The composition root, built for each role and inspected before it starts: the engine's outputs persist then publish,
/// and the node's hosted services start in the order SignalStreamHost writes down (the store first, the signal stage and
/// alerts restored before ingest and the engine, the models before the pipeline).
/// </summary>
public sealed class CompositionTests : IDisposable
{
    private readonly string _data = Directory.CreateTempSubdirectory("signalstream-composition-").FullName;

    public void Dispose() => Directory.Delete(_data, recursive: true);

    [Theory]
    [InlineData("all")]
    [InlineData("engine")]
    public async Task AnEngineNodePersistsEveryResultThenPublishesItThroughTheFanOut(string roles)
    {
        await using var app = Build(roles);

        var outputs = app.Services.GetRequiredService<EngineOutputs>();

        Assert.IsType<EventWriter>(outputs.DurableOutput);
        Assert.Same(app.Services.GetRequiredService<IDurableEngineOutput>(), outputs.DurableOutput);
        Assert.Equal([app.Services.GetRequiredService<FanOutEngineOutput>()], outputs.PublishOrder);
    }

    [Fact]
    public async Task AHubNodeHasNoEngineOutputs()
    {
        await using var app = Build("hub");

        Assert.Null(app.Services.GetService<EngineOutputs>());
        Assert.Null(app.Services.GetService<FanOutEngineOutput>());
    }

    [Theory]
    [InlineData("all")]
    [InlineData("engine")]
    public async Task AnEngineNodeRestoresItsStateAndLoadsItsModelsBeforeIngestWhichStopsBeforeTheEngineDrains(string roles)
    {
        await using var app = Build(roles);

        var order = StartOrder(app);

        AssertStartsInOrder(order,
            typeof(EventWriter),
            typeof(EventProjector),
            typeof(NotificationService),
            typeof(EngineStateLoader),
            typeof(AlertStateLoader),
            typeof(ModelRegistry),
            typeof(EnginePipeline),
            typeof(IngestHostedService));

        // "hub": the Redis bus on both, the feeds and connections on "all".
        Assert.Equal(
            ["observability", "event store", "notifications", "engine state", "alerts", "engine", "ingest", "hub"],
            order.Select(p => p.Stage).Distinct());
    }

    [Fact]
    public async Task AHubNodeStartsTheStoreBeforeItsFeedsAndItsFeedsBeforeItsConnections()
    {
        await using var app = Build("hub");

        var order = StartOrder(app);

        AssertStartsInOrder(order, typeof(EventWriter), typeof(SymbolFeeds), typeof(ConnectionRegistry));
        Assert.DoesNotContain(order, p => p.Service is EngineStateLoader or IngestHostedService or EnginePipeline);
    }

    [Theory]
    [InlineData("all")]
    [InlineData("engine")]
    [InlineData("hub")]
    public async Task NoneOfTheNodesOwnHostedServicesStartsOutsideTheWrittenOrder(string roles)
    {
        await using var app = Build(roles);

        var own = app.Services.GetServices<IHostedService>().Where(s => s.GetType().Assembly.GetName().Name!.StartsWith("SignalStream", StringComparison.Ordinal));

        Assert.IsType<NodeStartup>(Assert.Single(own));
    }

    [Theory]
    [InlineData("all")]
    [InlineData("hub")]
    public async Task TheHostWaitsForTheWritersShutdownTimeoutAfterTheStagesStoppedBeforeIt(string roles)
    {
        // The Generic Host's 30 s default used to cut a writer allowed 2 minutes off at 30 s, less the stages before it.
        await using var app = Build(roles, settings: ["--Storage:Writer:ShutdownTimeout=00:02:00", "--Hub:ShutdownDrainTimeout=00:00:10"]);

        var timeout = app.Services.GetRequiredService<IOptions<HostOptions>>().Value.ShutdownTimeout;

        // The writer's 2 minutes, three hub drains of 10 s (connections at ApplicationStopping and at stop, the feeds), the
        // notification sinks' 10 s.
        Assert.True(timeout >= TimeSpan.FromMinutes(2) + TimeSpan.FromSeconds(30 + 10), $"the host waits {timeout}");
    }

    [Fact]
    public async Task TheDefaultShutdownTimeoutCoversTheDefaultBudgetsAndALongerHostSettingIsKept()
    {
        await using var defaults = Build("all");
        await using var longer = Build("all", settings: ["--shutdownTimeoutSeconds=600"]);

        // The writer's 30 s, three hub drains of 5 s, the sinks' 10 s, and a margin: a minute or so, not the host's 30 s.
        Assert.InRange(defaults.Services.GetRequiredService<IOptions<HostOptions>>().Value.ShutdownTimeout,
            TimeSpan.FromSeconds(55), TimeSpan.FromSeconds(90));
        Assert.Equal(TimeSpan.FromMinutes(10), longer.Services.GetRequiredService<IOptions<HostOptions>>().Value.ShutdownTimeout);
    }

    [Fact]
    public async Task AHubNodeSaysWhereToAskForModelsAndPerformance()
    {
        await using var node = await TestServer.StartAsync("--Node:Roles=hub", $"--ConnectionStrings:Redis={TestServices.Redis}");

        foreach (var path in new[] { "/api/models", "/api/performance" })
        {
            using var response = await node.Http.GetAsync(new Uri(path, UriKind.Relative)).WaitAsync(TimeSpan.FromSeconds(30));
            Assert.Equal(System.Net.HttpStatusCode.ServiceUnavailable, response.StatusCode);
            Assert.Contains("ask a node with Node:Roles all or engine", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task TheBinanceSourceResumesFromTheStoresWatermarks()
    {
        // Without them a restart takes every candle closed while the node was down for warm-up history: never decided.
        await using var app = Build("all", source: "binance");

        var source = Assert.IsType<BinanceCandleSource>(app.Services.GetRequiredService<ICandleSource>());

        Assert.IsType<StoredResumePoints>(source.ResumePoints);
    }

    private WebApplication Build(string roles, string source = "simulated", string[]? settings = null) => SignalStreamHost.Build(
    [
        "--urls", "http://127.0.0.1:0",
        $"--Storage:File:Path={_data}",
        $"--Node:Roles={roles}",
        $"--Ingest:Source={source}",

        // Never connected: nothing here starts. A hub node needs a bus to be built at all.
        "--ConnectionStrings:Redis=127.0.0.1:1",
        .. settings ?? [],
    ]);

    private static IReadOnlyList<(string Stage, IHostedService Service)> StartOrder(WebApplication app) =>
        app.Services.GetServices<IHostedService>().OfType<NodeStartup>().Single().Order;

    private static void AssertStartsInOrder(IReadOnlyList<(string Stage, IHostedService Service)> order, params Type[] expected)
    {
        var positions = expected.Select(t => order.ToList().FindIndex(p => p.Service.GetType() == t)).ToArray();
        var listed = string.Join(", ", order.Select(p => $"{p.Stage}: {p.Service.GetType().Name}"));
        for (var i = 0; i < expected.Length; i++)
        {
            Assert.True(positions[i] >= 0, $"{expected[i].Name} does not start at all; the order is {listed}");
        }

        for (var i = 1; i < expected.Length; i++)
        {
            Assert.True(positions[i] > positions[i - 1], $"{expected[i].Name} starts before {expected[i - 1].Name}; the order is {listed}");
        }
    }
}
