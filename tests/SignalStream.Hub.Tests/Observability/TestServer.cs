using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using SignalStream.Hub.Hosting;

namespace SignalStream.Hub.Tests.Observability;

/// <summary>The real composition root on real Kestrel (loopback, a free port), for scraping <c>/metrics</c>.</summary>
internal sealed class TestServer : IAsyncDisposable
{
    /// <summary>A whole node (ingest, engine, hub) on the built-in market simulator, 600x real time (a 1m candle every 0.1 s).</summary>
    public static readonly string[] SimulatedRun = ["--Node:Roles=all", "--Ingest:Source=simulated", "--Ingest:Simulated:Speed=600"];

    private readonly string _dataDirectory;

    private TestServer(WebApplication app, Uri address, string dataDirectory, CapturingLoggerProvider logs)
    {
        App = app;
        Address = address;
        _dataDirectory = dataDirectory;
        Logs = logs;
        Http = new HttpClient { BaseAddress = address, Timeout = TimeSpan.FromSeconds(30) };
    }

    public WebApplication App { get; }

    public Uri Address { get; }

    public HttpClient Http { get; }

    public CapturingLoggerProvider Logs { get; }

    public IServiceProvider Services => App.Services;

    public static async Task<TestServer> StartAsync(params string[] args)
    {
        var data = Directory.CreateTempSubdirectory("signalstream-obs-").FullName;
        var logs = new CapturingLoggerProvider();
        string[] all = ["--urls", "http://127.0.0.1:0", $"--Storage:File:Path={data}", .. args];
        var app = SignalStreamHost.Build(all, builder =>
        {
            builder.Logging.ClearProviders();
            builder.Logging.AddProvider(logs);
        });
        await app.StartAsync().WaitAsync(TimeSpan.FromSeconds(60));
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        return new TestServer(app, new Uri(address), data, logs);
    }

    public async Task<string> ScrapeAsync()
    {
        using var response = await Http.GetAsync(new Uri("/metrics", UriKind.Relative)).WaitAsync(TimeSpan.FromSeconds(30));
        response.EnsureSuccessStatusCode();
        return await response.Content.ReadAsStringAsync().WaitAsync(TimeSpan.FromSeconds(30));
    }

    public async ValueTask DisposeAsync()
    {
        Http.Dispose();
        await App.StopAsync().WaitAsync(TimeSpan.FromSeconds(30));
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

    public static int FreeLoopbackPort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}

/// <summary>Keeps every log entry (formatted) so tests can assert what was and was not written.</summary>
internal sealed class CapturingLoggerProvider : ILoggerProvider
{
    private readonly ConcurrentQueue<LogEntry> _entries = new();
    private readonly ConcurrentBag<(int EventId, TaskCompletionSource<LogEntry> Done)> _waiters = [];

    public IReadOnlyCollection<LogEntry> Entries => _entries;

    public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);

    public Task<LogEntry> WaitForEventAsync(int eventId)
    {
        var done = new TaskCompletionSource<LogEntry>(TaskCreationOptions.RunContinuationsAsynchronously);
        _waiters.Add((eventId, done));
        foreach (var entry in _entries)
        {
            if (entry.EventId == eventId)
            {
                done.TrySetResult(entry);
            }
        }

        return done.Task;
    }

    public void Dispose()
    {
    }

    private void Add(LogEntry entry)
    {
        _entries.Enqueue(entry);
        foreach (var (eventId, done) in _waiters)
        {
            if (eventId == entry.EventId)
            {
                done.TrySetResult(entry);
            }
        }
    }

    internal sealed record LogEntry(string Category, int EventId, LogLevel Level, string Message, string State);

    private sealed class Logger(CapturingLoggerProvider owner, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel != LogLevel.None;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            var fields = state is IEnumerable<KeyValuePair<string, object?>> pairs
                ? string.Join(";", pairs.Select(p => p.Key + "=" + p.Value))
                : state?.ToString() ?? "";
            owner.Add(new LogEntry(category, eventId.Id, logLevel, formatter(state, exception), fields));
        }
    }
}
