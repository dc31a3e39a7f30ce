using System.Diagnostics.Metrics;
using BenchmarkDotNet.Attributes;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using SignalStream.Contracts;
using SignalStream.Engine;
using SignalStream.Engine.Events;

namespace SignalStream.Benchmarks.Events;

/// <summary>
/// Event store throughput: a group commit straight into the store, and sustained load through the event writer
/// (bounded channel → group commit) with the persistence lag it adds. PostgreSQL needs SIGNALSTREAM_TEST_POSTGRES
/// (eval "$(scripts/test-services.sh start)"). Per-operation times are per event (OperationsPerInvoke).
/// </summary>
[MemoryDiagnoser]
public class EventStoreBenchmarks
{
    private const int WriterEvents = 50_000;

    private ServiceProvider _provider = null!;
    private IEventStore _store = null!;
    private EventData[] _template = null!;
    private IEngineOutput _writer = null!;
    private IHostedService[] _hosted = null!;
    private MeterListener _listener = null!;
    private readonly List<double> _lags = [];
    private long _persisted;
    private long _candleIndex;
    private string _folder = string.Empty;

    /// <summary>Both providers, or only those listed in SIGNALSTREAM_BENCH_PROVIDERS (comma-separated, e.g. "postgres").</summary>
    public static IEnumerable<string> Providers =>
        Environment.GetEnvironmentVariable("SIGNALSTREAM_BENCH_PROVIDERS")?.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
        ?? ["file", "postgres"];

    [ParamsSource(nameof(Providers))]
    public string Provider { get; set; } = "file";

    [Params(1000, 5000)]
    public int GroupSize { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _folder = Path.Combine(Path.GetTempPath(), "signalstream-bench-" + Guid.NewGuid().ToString("N"));
        var settings = new Dictionary<string, string?>
        {
            ["Storage:Provider"] = Provider,
            ["Storage:File:Path"] = _folder,
            ["Storage:Postgres:Schema"] = "bench_" + Guid.NewGuid().ToString("N")[..12],
            ["ConnectionStrings:Postgres"] = Provider == "postgres"
                ? Environment.GetEnvironmentVariable("SIGNALSTREAM_TEST_POSTGRES")
                    ?? throw new InvalidOperationException("Set SIGNALSTREAM_TEST_POSTGRES: eval \"$(scripts/test-services.sh start)\"")
                : null,
            ["Storage:Writer:MaxBatchSize"] = GroupSize.ToString(),
            ["Storage:Writer:MaxDelay"] = "00:00:00.002",
        };
        var services = new ServiceCollection().AddLogging();
        services.AddSignalStreamEvents(new ConfigurationBuilder().AddInMemoryCollection(settings).Build());
        _provider = services.BuildServiceProvider();
        _store = _provider.GetRequiredService<IEventStore>();
        _writer = _provider.GetServices<IEngineOutput>().First();
        _hosted = _provider.GetServices<IHostedService>().ToArray();
        foreach (var hosted in _hosted)
        {
            hosted.StartAsync(CancellationToken.None).GetAwaiter().GetResult();
        }

        _template = Enumerable.Range(0, GroupSize)
            .Select(i => EventSerializer.Serialize(Closed(i), Guid.Empty, DateTimeOffset.UtcNow))
            .ToArray();

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

    [GlobalCleanup]
    public void Cleanup()
    {
        foreach (var hosted in _hosted.Reverse())
        {
            hosted.StopAsync(CancellationToken.None).GetAwaiter().GetResult();
        }

        _listener.Dispose();
        lock (_lags)
        {
            if (_lags.Count > 0)
            {
                _lags.Sort();
                Console.WriteLine(
                    $"// persistence lag ({Provider}, batch {GroupSize}, {_lags.Count} events): " +
                    $"p50 {_lags[_lags.Count / 2] * 1000:F1} ms, p99 {_lags[(int)(_lags.Count * 0.99)] * 1000:F1} ms, max {_lags[^1] * 1000:F1} ms");
            }
        }

        _provider.Dispose();
        if (Directory.Exists(_folder))
        {
            Directory.Delete(_folder, recursive: true);
        }
    }

    /// <summary>One group commit of <see cref="GroupSize"/> candle events over 20 streams, straight into the store.</summary>
    [Benchmark(OperationsPerInvoke = 5000)]
    public async Task StoreGroupCommit()
    {
        // Per-invoke work scales with GroupSize; OperationsPerInvoke is fixed, so normalize below by repeating.
        for (var done = 0; done < 5000; done += GroupSize)
        {
            var byStream = new List<EventData>[20];
            for (var s = 0; s < byStream.Length; s++)
            {
                byStream[s] = new List<EventData>(GroupSize / 20 + 1);
            }

            for (var i = 0; i < GroupSize; i++)
            {
                byStream[i % 20].Add(_template[i] with { EventId = Guid.CreateVersion7() });
            }

            var group = byStream.Select((events, s) => new StreamAppend("bench-" + s, "candles", ExpectedVersions.Any, events)).ToList();
            await _store.AppendAsync(group);
        }
    }

    /// <summary>Sustained: 50,000 closed candles through the event writer, until all are committed.</summary>
    [Benchmark(OperationsPerInvoke = WriterEvents)]
    public async Task WriterSustained()
    {
        var target = Interlocked.Read(ref _persisted) + WriterEvents;
        for (var i = 0; i < WriterEvents; i++)
        {
            await _writer.OnCandleAsync(new CandleUpdate("bench", Closed(_candleIndex++).Candle, true, 0, 0, CandleOrigin.Simulated), default);
        }

        while (Interlocked.Read(ref _persisted) < target)
        {
            await Task.Delay(1);
        }
    }

    private static CandleClosed Closed(long index)
    {
        var open = 1_700_000_000_000 + index * 60_000;
        var symbol = "SYM" + (index % 20);
        return new CandleClosed(
            "bench",
            new Candle(symbol, Timeframe.OneMinute, open, open + 59_999, 65000.12m, 65100.5m, 64900.01m, 65050.99m, 123.45678901m, 8_000_000.12m, 4242, 60.5m, 3_900_000.1m),
            CandleOrigin.Simulated,
            open + 60_000,
            open + 60_001);
    }
}
