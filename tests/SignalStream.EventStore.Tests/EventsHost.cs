using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using SignalStream.Engine;

namespace SignalStream.EventStore.Tests;

/// <summary>
/// The events area as the host wires it (AddSignalStreamEvents, and the engine's <see cref="EngineOutputs"/> over the
/// event writer), with hosted services started and stopped. A test adds publishers as <see cref="IEngineOutput"/>s.
/// </summary>
internal sealed class EventsHost : IAsyncDisposable
{
    private readonly ServiceProvider _provider;
    private readonly IHostedService[] _hosted;

    private EventsHost(ServiceProvider provider)
    {
        _provider = provider;
        _hosted = provider.GetServices<IHostedService>().ToArray();
    }

    public IServiceProvider Services => _provider;

    /// <summary>What the engine calls: the event writer first, then (signals and outcomes after their commit) the publishers.</summary>
    public IEngineOutput Output => _provider.GetRequiredService<EngineOutputs>();

    public ISignalHistory History => _provider.GetRequiredService<ISignalHistory>();

    public IEventStore Store => _provider.GetRequiredService<IEventStore>();

    public static async Task<EventsHost> StartAsync(Dictionary<string, string?> settings, Action<IServiceCollection>? configure = null)
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(settings).Build();
        var services = new ServiceCollection();
        services.AddLogging();
        services.AddSignalStreamEvents(configuration);
        // The node's order: the writer persists, then the publishers a test registers (as IEngineOutput) get the results.
        services.AddSingleton(sp => new EngineOutputs(sp.GetRequiredService<IDurableEngineOutput>(), [.. sp.GetServices<IEngineOutput>()]));
        configure?.Invoke(services);
        var host = new EventsHost(services.BuildServiceProvider(new ServiceProviderOptions { ValidateOnBuild = true }));
        foreach (var hosted in host._hosted)
        {
            await hosted.StartAsync(CancellationToken.None).WaitAsync(TestEvents.Wait);
        }

        return host;
    }

    public async Task StopAsync()
    {
        foreach (var hosted in _hosted.Reverse())
        {
            await hosted.StopAsync(CancellationToken.None).WaitAsync(TestEvents.Wait);
        }
    }

    public async ValueTask DisposeAsync() => await _provider.DisposeAsync();

    public static Dictionary<string, string?> FileSettings(string folder, string delay = "00:00:00.002") => new()
    {
        ["Storage:Provider"] = "file",
        ["Storage:File:Path"] = folder,
        ["Storage:Writer:MaxDelay"] = delay,
    };
}
