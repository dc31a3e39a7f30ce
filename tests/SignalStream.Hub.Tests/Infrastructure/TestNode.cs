using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using SignalStream.Contracts;
using SignalStream.Engine;
using SignalStream.Engine.Events;
using SignalStream.Hub.Hosting;

namespace SignalStream.Hub.Tests.Infrastructure;

/// <summary>
/// One SignalStream node built by the real composition root and served by real Kestrel on a loopback port.
/// Until the engine and events work is merged, signals are injected through the node's own <see cref="EngineOutputs"/>
/// (the engine-side seam), and the store is an <see cref="InMemorySignalHistory"/> shared by every node of a test.
/// </summary>
internal sealed class TestNode : IAsyncDisposable
{
    private TestNode(WebApplication app, Uri baseAddress)
    {
        App = app;
        BaseAddress = baseAddress;
    }

    public WebApplication App { get; }

    public Uri BaseAddress { get; }

    public static async Task<TestNode> StartAsync(InMemorySignalHistory? store, string roles = "all", string? redis = null, params string[] settings)
    {
        var args = new List<string>
        {
            "--urls=http://127.0.0.1:0",
            $"--Node:Roles={roles}",
            "--Ingest:Source=simulated",
            "--Logging:LogLevel:Default=Warning",
            "--Hub:CatchUpInterval=00:00:00.500",
        };
        if (redis is not null)
        {
            args.Add($"--ConnectionStrings:Redis={redis}");
        }

        args.AddRange(settings.Select(s => "--" + s));
        var app = SignalStreamHost.Build([.. args], builder =>
            builder.Host.UseServiceProviderFactory(new TestServiceProviderFactory(store, writesStore: roles != "hub")));
        await app.StartAsync().WaitAsync(TimeSpan.FromSeconds(30));
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        return new TestNode(app, new Uri(address));
    }

    /// <summary>What the engine does with a new signal: every engine output in order (store first, then fan-out).</summary>
    public async Task PublishAsync(Signal signal) =>
        await App.Services.GetRequiredService<EngineOutputs>().OnSignalAsync(signal, CancellationToken.None).AsTask().WaitAsync(TimeSpan.FromSeconds(30));

    public async Task PublishOutcomeAsync(SignalOutcome outcome) =>
        await App.Services.GetRequiredService<EngineOutputs>().OnOutcomeAsync(outcome, CancellationToken.None).AsTask().WaitAsync(TimeSpan.FromSeconds(30));

    public async Task PublishCandleAsync(CandleUpdate update) =>
        await App.Services.GetRequiredService<EngineOutputs>().OnCandleAsync(update, CancellationToken.None).AsTask().WaitAsync(TimeSpan.FromSeconds(30));

    public Task<HubTestClient> ConnectAsync(string? token = null) => HubTestClient.ConnectAsync(BaseAddress, token);

    public HttpClient Http() => new() { BaseAddress = BaseAddress, Timeout = TimeSpan.FromSeconds(20) };

    public async ValueTask DisposeAsync()
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        await App.StopAsync(cts.Token);
        await App.DisposeAsync();
    }

    /// <summary>
    /// Test surgery on the finished service collection: the ingest and engine background services do not run (tests
    /// drive the engine seam themselves), and the store is the shared in-memory one, written first among engine outputs.
    /// </summary>
    private sealed class TestServiceProviderFactory(InMemorySignalHistory? store, bool writesStore) : IServiceProviderFactory<IServiceCollection>
    {
        public IServiceCollection CreateBuilder(IServiceCollection services)
        {
            var skipped = new[] { typeof(Ingest.CandleUpdateChannel).Assembly, typeof(EngineOutputs).Assembly };
            for (var i = services.Count - 1; i >= 0; i--)
            {
                var d = services[i];
                if ((d.ServiceType == typeof(IHostedService) && d.ImplementationType is { } t && skipped.Contains(t.Assembly))
                    || (store is not null && (d.ServiceType == typeof(ISignalHistory) || d.ServiceType == typeof(ISignalSequence))))
                {
                    services.RemoveAt(i);
                }
            }

            if (store is not null)
            {
                services.AddSingleton<ISignalHistory>(store);
                services.AddSingleton<ISignalSequence>(store);
                if (writesStore)
                {
                    var first = services.TakeWhile(d => d.ServiceType != typeof(IEngineOutput)).Count();
                    services.Insert(first, ServiceDescriptor.Singleton<IEngineOutput>(new StoreWriterOutput(store)));
                }
            }

            return services;
        }

        public IServiceProvider CreateServiceProvider(IServiceCollection containerBuilder) => containerBuilder.BuildServiceProvider();
    }
}
