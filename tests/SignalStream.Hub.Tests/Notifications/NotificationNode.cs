using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using SignalStream.Contracts;
using SignalStream.Engine;
using SignalStream.EventStore;
using SignalStream.Hub.Hosting;
using SignalStream.Hub.Notifications;
using SignalStream.Hub.Tests.Observability;

namespace SignalStream.Hub.Tests.Notifications;

/// <summary>
/// A whole node (production composition root, real Kestrel, the real file store on a folder the test owns, so a second
/// node can restart on it) whose ingest and engine loops do not run: the test publishes signals and outcomes through the
/// node's own <see cref="EngineOutputs"/> — the store's writer, then the fan-out that wakes the sinks — exactly what
/// the engine does with each signal it decides.
/// </summary>
internal sealed class NotificationNode : IAsyncDisposable
{
    public static readonly TimeSpan Wait = TimeSpan.FromSeconds(60);

    private bool _stopped;

    private NotificationNode(WebApplication app, Uri address, CapturingLoggerProvider logs)
    {
        App = app;
        Address = address;
        Logs = logs;
    }

    public WebApplication App { get; }

    public Uri Address { get; }

    public CapturingLoggerProvider Logs { get; }

    public IEventStore Store => App.Services.GetRequiredService<IEventStore>();

    /// <summary>Starts a node on <paramref name="data"/> with the given configuration switches (without the leading --).</summary>
    public static async Task<NotificationNode> StartAsync(string data, params string[] settings)
    {
        var logs = new CapturingLoggerProvider();
        string[] args =
        [
            "--urls=http://127.0.0.1:0",
            $"--Storage:File:Path={data}",
            "--Node:Roles=all",
            "--Ingest:Source=simulated",
            "--Ingest:Symbols=BTCUSDT,ETHUSDT",
            "--Ingest:Timeframes=1m,5m",
            "--Logging:LogLevel:Default=Warning",
            "--Logging:LogLevel:SignalStream.Hub.Notifications=Debug",
            .. settings.Select(s => "--" + s),
        ];
        var app = SignalStreamHost.Build(args, builder =>
        {
            builder.Logging.ClearProviders();
            builder.Logging.AddProvider(logs);
            builder.Host.UseServiceProviderFactory(new WithoutEngineLoops());
        });
        await app.StartAsync().WaitAsync(Wait);
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        return new NotificationNode(app, new Uri(address), logs);
    }

    /// <summary>What the engine does with a new signal: every engine output in order (store first, then fan-out).</summary>
    public async Task PublishAsync(Signal signal) =>
        await App.Services.GetRequiredService<EngineOutputs>().OnSignalAsync(signal, CancellationToken.None).AsTask().WaitAsync(Wait);

    public async Task PublishOutcomeAsync(SignalOutcome outcome) =>
        await App.Services.GetRequiredService<EngineOutputs>().OnOutcomeAsync(outcome, CancellationToken.None).AsTask().WaitAsync(Wait);

    public async Task<IReadOnlyDictionary<string, Family>> ScrapeAsync()
    {
        using var http = new HttpClient { BaseAddress = Address, Timeout = Wait };
        return ExpositionParser.Parse(await http.GetStringAsync(new Uri("/metrics", UriKind.Relative)).WaitAsync(Wait));
    }

    /// <summary>A counter's value for one sink (0 when the series does not exist yet).</summary>
    public async Task<double> CounterAsync(string metric, string sink)
    {
        var families = await ScrapeAsync();
        return families.TryGetValue(metric, out var family)
            ? family.Samples.Where(s => s.Label("sink") == sink).Sum(s => s.Value)
            : 0;
    }

    /// <summary>
    /// Polls a counter until it reaches <paramref name="atLeast"/> (the metric is the observable; the deadline bounds it).
    /// On timeout the failure gives the last value and what the node logged, so a test that stalls says why.
    /// </summary>
    public async Task WaitForCounterAsync(string metric, string sink, double atLeast)
    {
        var deadline = DateTime.UtcNow + Wait;
        double value;
        while ((value = await CounterAsync(metric, sink)) < atLeast)
        {
            if (DateTime.UtcNow > deadline)
            {
                var log = string.Join(Environment.NewLine, Logs.Entries.Select(e => $"  {e.Level} {e.Category}[{e.EventId}] {e.Message}"));
                throw new TimeoutException($"{metric}{{sink=\"{sink}\"}} stayed at {value}, short of {atLeast}, for {Wait.TotalSeconds} s. The node logged:{Environment.NewLine}{log}");
            }

            await Task.Delay(50);
        }
    }

    /// <summary>The records a sink wrote for a symbol, oldest first.</summary>
    public async Task<IReadOnlyList<StoredEvent>> RecordsAsync(string sink, string symbol) =>
        await Store.ReadStreamAsync("notifications-" + sink + "-" + symbol, 1, 10_000).AsTask().WaitAsync(Wait);

    /// <summary>Polls a stream until it holds <paramref name="count"/> events (records are committed after the metric counts them).</summary>
    public async Task<IReadOnlyList<StoredEvent>> WaitForStreamAsync(string stream, int count)
    {
        using var deadline = new CancellationTokenSource(Wait);
        while (true)
        {
            var events = await Store.ReadStreamAsync(stream, 1, 10_000).AsTask().WaitAsync(Wait);
            if (events.Count >= count)
            {
                return events;
            }

            await Task.Delay(50, deadline.Token);
        }
    }

    /// <summary>Graceful stop (SIGTERM): sinks record their progress, the writer drains. Idempotent.</summary>
    public async Task StopAsync()
    {
        if (!_stopped)
        {
            _stopped = true;
            await App.StopAsync().WaitAsync(Wait);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        await App.DisposeAsync();
    }

    public static string NewDataDirectory() => Directory.CreateTempSubdirectory("signalstream-notify-").FullName;

    public static void DeleteQuietly(string data)
    {
        try
        {
            Directory.Delete(data, recursive: true);
        }
        catch (IOException)
        {
            // A temp folder left behind is harmless; the test result is what matters.
        }
    }

    /// <summary>Removes the ingest and engine loops (tests publish themselves); the store, its writer and the sinks stay.</summary>
    private sealed class WithoutEngineLoops : IServiceProviderFactory<IServiceCollection>
    {
        public IServiceCollection CreateBuilder(IServiceCollection services)
        {
            var skipped = new[] { typeof(Ingest.CandleUpdateChannel).Assembly, typeof(EngineOutputs).Assembly };
            for (var i = services.Count - 1; i >= 0; i--)
            {
                if (services[i].ServiceType == typeof(IHostedService) && services[i].ImplementationType is { } t && skipped.Contains(t.Assembly))
                {
                    services.RemoveAt(i);
                }
            }

            return services;
        }

        public IServiceProvider CreateServiceProvider(IServiceCollection containerBuilder) => containerBuilder.BuildServiceProvider();
    }
}
