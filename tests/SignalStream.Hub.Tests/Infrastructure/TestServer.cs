using System.Net;
using System.Net.Sockets;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using SignalStream.Hub.Hosting;

namespace SignalStream.Hub.Tests.Infrastructure;

/// <summary>
/// The real composition root (<see cref="SignalStreamHost.Build"/>) on real Kestrel (loopback, a free port): the whole
/// node, engine included, as production runs it. Used for <c>/metrics</c> scraping and the end-to-end tests.
/// </summary>
internal sealed class TestServer : IAsyncDisposable
{
    /// <summary>A whole node (ingest, engine, hub) on the built-in market simulator, 600x real time (a 1m candle every 0.1 s).</summary>
    public static readonly string[] SimulatedRun = ["--Node:Roles=all", "--Ingest:Source=simulated", "--Ingest:Simulated:Speed=600"];

    private readonly string _dataDirectory;
    private readonly bool _ownsDataDirectory;
    private bool _stopped;

    private TestServer(WebApplication app, Uri address, string dataDirectory, bool ownsDataDirectory, CapturingLoggerProvider logs)
    {
        App = app;
        Address = address;
        _dataDirectory = dataDirectory;
        _ownsDataDirectory = ownsDataDirectory;
        Logs = logs;
        Http = new HttpClient { BaseAddress = address, Timeout = TimeSpan.FromSeconds(30) };
    }

    public WebApplication App { get; }

    public Uri Address { get; }

    public HttpClient Http { get; }

    public CapturingLoggerProvider Logs { get; }

    public IServiceProvider Services => App.Services;

    /// <summary>Starts a node on a fresh temporary file store, deleted when the server is disposed.</summary>
    public static Task<TestServer> StartAsync(params string[] args) =>
        StartAsync(Directory.CreateTempSubdirectory("signalstream-test-").FullName, ownsDataDirectory: true, args);

    /// <summary>Starts a node on <paramref name="dataDirectory"/> (kept on dispose), so a later node can restart on it.</summary>
    public static Task<TestServer> StartOnAsync(string dataDirectory, params string[] args) =>
        StartAsync(dataDirectory, ownsDataDirectory: false, args);

    private static async Task<TestServer> StartAsync(string data, bool ownsDataDirectory, string[] args)
    {
        var logs = new CapturingLoggerProvider();
        string[] all = ["--urls", "http://127.0.0.1:0", $"--Storage:File:Path={data}", .. args];
        var app = SignalStreamHost.Build(all, builder =>
        {
            builder.Logging.ClearProviders();
            builder.Logging.AddProvider(logs);
        });
        await app.StartAsync().WaitAsync(TimeSpan.FromSeconds(60));
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        return new TestServer(app, new Uri(address), data, ownsDataDirectory, logs);
    }

    public async Task<string> ScrapeAsync()
    {
        using var response = await Http.GetAsync(new Uri("/metrics", UriKind.Relative)).WaitAsync(TimeSpan.FromSeconds(30));
        response.EnsureSuccessStatusCode();
        return await response.Content.ReadAsStringAsync().WaitAsync(TimeSpan.FromSeconds(30));
    }

    public Task<HubTestClient> ConnectAsync(string? token = null) => HubTestClient.ConnectAsync(Address, token);

    /// <summary>Graceful stop (what SIGTERM does): hosted services stop and the store flushes. Idempotent.</summary>
    public async Task StopAsync()
    {
        if (!_stopped)
        {
            _stopped = true;
            await App.StopAsync().WaitAsync(TimeSpan.FromSeconds(30));
        }
    }

    public async ValueTask DisposeAsync()
    {
        Http.Dispose();
        await StopAsync();
        await App.DisposeAsync();
        if (!_ownsDataDirectory)
        {
            return;
        }

        try
        {
            Directory.Delete(_dataDirectory, recursive: true);
        }
        catch (IOException)
        {
            // A temp folder left behind is harmless; the test result is what matters.
        }
    }
}
