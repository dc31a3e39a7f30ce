using System.Diagnostics.Metrics;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using SignalStream.Contracts;
using SignalStream.Engine;
using SignalStream.Engine.Events;
using SignalStream.EventStore;
using SignalStream.Testing;

namespace SignalStream.Benchmarks.Events;

/// <summary>
/// The event store and writer of one benchmark run (file journal in a temp folder, or a fresh PostgreSQL schema), with a
/// listener on the writer's persistence-lag histogram and persisted counter.
/// </summary>
internal sealed class EventsBenchHost : IAsyncDisposable
{
    private readonly ServiceProvider _provider;
    private readonly IHostedService[] _hosted;
    private readonly MeterListener _listener;
    private readonly List<double> _lags = [];
    private readonly string _folder;
    private readonly string? _schema;
    private long _persisted;

    private EventsBenchHost(string provider, int groupSize)
    {
        _folder = Path.Combine(Path.GetTempPath(), "signalstream-bench-" + Guid.NewGuid().ToString("N"));
        _schema = IsPostgreSql(provider) ? "bench_" + Guid.NewGuid().ToString("N")[..12] : null;
        var settings = new Dictionary<string, string?>
        {
            ["Storage:Provider"] = provider,
            ["Storage:File:Path"] = _folder,
            ["Storage:Postgres:Schema"] = _schema ?? "unused",
            ["Storage:Marten:Schema"] = _schema ?? "unused",
            ["ConnectionStrings:Postgres"] = IsPostgreSql(provider) ? TestServices.Postgres : null,
            ["Storage:Writer:MaxBatchSize"] = groupSize.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["Storage:Writer:MaxDelay"] = "00:00:00.002",
        };

        // SIGNALSTREAM_BENCH_LANES overrides Storage:Writer:CommitLanes (e.g. 1 to measure the serial writer).
        if (Environment.GetEnvironmentVariable("SIGNALSTREAM_BENCH_LANES") is { Length: > 0 } lanes)
        {
            settings["Storage:Writer:CommitLanes"] = lanes;
        }

        var services = new ServiceCollection().AddLogging();
        services.AddSignalStreamEvents(new ConfigurationBuilder().AddInMemoryCollection(settings).Build());
        _provider = services.BuildServiceProvider();
        Store = _provider.GetRequiredService<IEventStore>();
        Writer = _provider.GetRequiredService<IDurableEngineOutput>();
        _hosted = _provider.GetServices<IHostedService>().ToArray();

        _listener = new MeterListener
        {
            InstrumentPublished = (instrument, listener) =>
            {
                if (instrument.Meter.Name == EventsMetrics.MeterName)
                {
                    listener.EnableMeasurementEvents(instrument);
                }
            },
        };
        _listener.SetMeasurementEventCallback<double>((instrument, value, _, _) =>
        {
            if (instrument.Name == "signalstream_persistence_lag_seconds")
            {
                lock (_lags)
                {
                    _lags.Add(value);
                }
            }
        });
        _listener.SetMeasurementEventCallback<long>((instrument, value, _, _) =>
        {
            if (instrument.Name == "signalstream_events_persisted_total")
            {
                Interlocked.Add(ref _persisted, value);
            }
        });
        _listener.Start();
    }

    /// <summary>"postgres" (Npgsql COPY) and "marten" both run on the test PostgreSQL, each in its own bench schema.</summary>
    public static bool IsPostgreSql(string provider) => provider is "postgres" or "marten";

    /// <summary>file and postgres, or only those listed in SIGNALSTREAM_BENCH_PROVIDERS (comma-separated, e.g. "postgres,marten").</summary>
    public static IEnumerable<string> Providers =>
        Environment.GetEnvironmentVariable("SIGNALSTREAM_BENCH_PROVIDERS")?.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
        ?? ["file", "postgres"];

    public IEventStore Store { get; }

    public IDurableEngineOutput Writer { get; }

    public long Persisted => Interlocked.Read(ref _persisted);

    public static EventsBenchHost Start(string provider, int groupSize)
    {
        var host = new EventsBenchHost(provider, groupSize);
        foreach (var hosted in host._hosted)
        {
            hosted.StartAsync(CancellationToken.None).GetAwaiter().GetResult();
        }

        return host;
    }

    /// <summary>Waits until at least <paramref name="target"/> events have been committed since the start.</summary>
    public async Task WaitPersistedAsync(long target)
    {
        while (Persisted < target)
        {
            await Task.Delay(1);
        }
    }

    /// <summary>The lags recorded so far (seconds), sorted, and forgets them.</summary>
    public List<double> TakeLags()
    {
        lock (_lags)
        {
            var taken = new List<double>(_lags);
            _lags.Clear();
            taken.Sort();
            return taken;
        }
    }

    /// <summary>"p50 … ms, p99 … ms, max … ms" of sorted lags.</summary>
    public static string Describe(List<double> sorted) =>
        sorted.Count == 0
            ? "no events"
            : $"{sorted.Count} events: p50 {sorted[sorted.Count / 2] * 1000:F1} ms, p99 {sorted[(int)(sorted.Count * 0.99)] * 1000:F1} ms, max {sorted[^1] * 1000:F1} ms";

    /// <summary>A closed one-minute candle of one of <paramref name="symbols"/> symbols.</summary>
    public static CandleClosed Closed(long index, int symbols = 20)
    {
        var open = 1_700_000_000_000 + index * 60_000;
        var symbol = "SYM" + (index % symbols);
        return new CandleClosed(
            "bench",
            new Candle(symbol, Timeframe.OneMinute, open, open + 59_999, 65000.12m, 65100.5m, 64900.01m, 65050.99m, 123.45678901m, 8_000_000.12m, 4242, 60.5m, 3_900_000.1m),
            CandleOrigin.Simulated,
            open + 60_000,
            open + 60_001);
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var hosted in _hosted.Reverse())
        {
            await hosted.StopAsync(CancellationToken.None);
        }

        _listener.Dispose();
        if (_schema is not null)
        {
            // A benchmark's events would otherwise stay behind and keep autovacuum busy during the next run.
            await using var connection = new Npgsql.NpgsqlConnection(TestServices.Postgres);
            await connection.OpenAsync();
            await using var drop = new Npgsql.NpgsqlCommand($"DROP SCHEMA IF EXISTS {_schema} CASCADE", connection);
            await drop.ExecuteNonQueryAsync();
        }

        await _provider.DisposeAsync();
        if (Directory.Exists(_folder))
        {
            Directory.Delete(_folder, recursive: true);
        }
    }
}
