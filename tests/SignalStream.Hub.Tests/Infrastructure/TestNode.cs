using System.Net;
using System.Net.Sockets;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using SignalStream.Contracts;
using SignalStream.Engine;
using SignalStream.Engine.Signals;
using SignalStream.EventStore;
using SignalStream.Hub.Hosting;

namespace SignalStream.Hub.Tests.Infrastructure;

/// <summary>
/// One SignalStream node built by the real composition root and served by real Kestrel on a loopback port.
/// The ingest and engine loops do not run: tests inject signals through the node's own <see cref="EngineOutputs"/> (the
/// engine-side seam), so they choose exactly what is published. The store is either an <see cref="InMemorySignalHistory"/>
/// shared by every node of a test, or (store null) the configured real one, such as PostgreSQL in a schema per test.
/// The whole node with the real engine is <see cref="TestServer"/>.
/// </summary>
internal sealed class TestNode : IAsyncDisposable
{
    private readonly string _dataDirectory;

    private TestNode(WebApplication app, Uri baseAddress, string dataDirectory)
    {
        App = app;
        BaseAddress = baseAddress;
        _dataDirectory = dataDirectory;
    }

    public WebApplication App { get; }

    public Uri BaseAddress { get; }

    public static async Task<TestNode> StartAsync(InMemorySignalHistory? store, string roles = "all", string? redis = null, params string[] settings)
    {
        // The file store (the default provider) gets a folder per node, so runs never see each other's journal.
        var data = Directory.CreateTempSubdirectory("signalstream-node-").FullName;
        var args = new List<string>
        {
            $"--Storage:File:Path={data}",
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
        return new TestNode(app, new Uri(address), data);
    }

    /// <summary>
    /// What the engine does with a new signal: the store takes it, then the fan-out (at once with the in-memory store;
    /// after the group commit with a real one, so this may return before the signal is delivered).
    /// </summary>
    public async Task PublishAsync(Signal signal) =>
        await App.Services.GetRequiredService<EngineOutputs>().OnSignalAsync(signal, CancellationToken.None).AsTask().WaitAsync(TimeSpan.FromSeconds(30));

    public async Task PublishOutcomeAsync(SignalOutcome outcome) =>
        await App.Services.GetRequiredService<EngineOutputs>().OnOutcomeAsync(outcome, CancellationToken.None).AsTask().WaitAsync(TimeSpan.FromSeconds(30));

    /// <summary>What the engine does with a candle: the live outputs on arrival, then (after its decisions) all of them.</summary>
    public async Task PublishCandleAsync(CandleUpdate update)
    {
        var outputs = App.Services.GetRequiredService<EngineOutputs>();
        await outputs.OnCandleArrivedAsync(update, CancellationToken.None).AsTask().WaitAsync(TimeSpan.FromSeconds(30));
        await outputs.OnCandleAsync(update, CancellationToken.None).AsTask().WaitAsync(TimeSpan.FromSeconds(30));
    }

    /// <summary>
    /// Waits until this node's store reads <paramref name="seq"/> as the symbol's last: the real event writer appends
    /// in the background, so an engine's publish returns before the store has the signal.
    /// </summary>
    public async Task WaitUntilStoredAsync(string symbol, long seq)
    {
        var sequence = App.Services.GetRequiredService<ISignalSequence>();
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        while (await sequence.GetLastSeqAsync(symbol, deadline.Token) < seq)
        {
            await Task.Delay(20, deadline.Token);
        }
    }

    /// <summary>
    /// Waits until the node's simulated market has stored a closed candle of <paramref name="timeframe"/> (its warm-up): it
    /// has then fixed its clock, from wall time or from the newest stored candle, so candles a test stores from now on
    /// cannot move it. A test that stores candles newer than the market's first needs this.
    /// </summary>
    public async Task WaitForSimulatedMarketAsync(string symbol, Timeframe timeframe)
    {
        var history = App.Services.GetRequiredService<ISignalHistory>();
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        while ((await history.ReadCandlesAsync(new StreamKey(symbol, timeframe), 0, 1, deadline.Token)).Count == 0)
        {
            await Task.Delay(20, deadline.Token);
        }
    }

    public Task<HubTestClient> ConnectAsync(string? token = null) => HubTestClient.ConnectAsync(BaseAddress, token);

    public HttpClient Http() => new() { BaseAddress = BaseAddress, Timeout = TimeSpan.FromSeconds(20) };

    /// <summary>An HTTP client whose connections leave from <paramref name="source"/> (any 127.0.0.0/8 address works on
    /// Linux): another client address to the per-client limits.</summary>
    public HttpClient HttpFrom(IPAddress source)
    {
        var handler = new SocketsHttpHandler
        {
            ConnectCallback = async (context, cancellationToken) =>
            {
                var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
                try
                {
                    socket.Bind(new IPEndPoint(source, 0));
                    await socket.ConnectAsync(context.DnsEndPoint, cancellationToken);
                    return new NetworkStream(socket, ownsSocket: true);
                }
                catch
                {
                    socket.Dispose();
                    throw;
                }
            },
        };
        return new HttpClient(handler) { BaseAddress = BaseAddress, Timeout = TimeSpan.FromSeconds(20) };
    }

    /// <summary>Where <c>/metrics</c> and <c>/health/*</c> are served: the first of <c>Management:Urls</c>, else the public address.</summary>
    public Uri ManagementAddress => App.Configuration["Management:Urls"] is { Length: > 0 } urls
        ? new Uri(urls.Split(';')[0].Trim())
        : BaseAddress;

    public HttpClient ManagementHttp() => new() { BaseAddress = ManagementAddress, Timeout = TimeSpan.FromSeconds(20) };

    public async ValueTask DisposeAsync()
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        await App.StopAsync(cts.Token);
        await App.DisposeAsync();
        try
        {
            Directory.Delete(_dataDirectory, recursive: true);
        }
        catch (IOException)
        {
            // A temp folder left behind is harmless; the test result is what matters.
        }
    }

    /// <summary>
    /// Test surgery on the finished service collection: the ingest and engine background services do not run (tests
    /// drive the engine seam themselves), and the store is the shared in-memory one, the engine's durable output.
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
                    // Registered last, so EngineOutputs takes it in place of the event writer.
                    services.AddSingleton<IDurableEngineOutput>(new StoreWriterOutput(store));
                }
            }

            return services;
        }

        public IServiceProvider CreateServiceProvider(IServiceCollection containerBuilder) => containerBuilder.BuildServiceProvider();
    }
}
