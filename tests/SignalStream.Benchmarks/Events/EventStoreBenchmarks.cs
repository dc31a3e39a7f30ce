using BenchmarkDotNet.Attributes;
using SignalStream.Contracts;
using SignalStream.EventStore;

namespace SignalStream.Benchmarks.Events;

/// <summary>
/// Event store throughput: a group commit straight into the store, and sustained load through the event writer
/// (bounded channels → group commits on the writer's lanes) with the persistence lag it adds. PostgreSQL needs
/// SIGNALSTREAM_TEST_POSTGRES (eval "$(scripts/test-services.sh start)"). Per-operation times are per event.
/// </summary>
[MemoryDiagnoser]
public class EventStoreBenchmarks
{
    private const int WriterEvents = 50_000;

    private EventsBenchHost _host = null!;
    private EventData[] _template = null!;
    private long _candleIndex;
    private CpuPerEvent? _cpu;
    private int _runs;

    public static IEnumerable<string> Providers => EventsBenchHost.Providers;

    [ParamsSource(nameof(Providers))]
    public string Provider { get; set; } = "file";

    [Params(1000, 5000)]
    public int GroupSize { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _host = EventsBenchHost.Start(Provider, GroupSize);
        _template = Enumerable.Range(0, GroupSize)
            .Select(i => EventSerializer.Serialize(EventsBenchHost.Closed(i), Guid.Empty, DateTimeOffset.UtcNow))
            .ToArray();
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        Console.WriteLine($"// persistence lag ({Provider}, batch {GroupSize}, saturating bursts) {EventsBenchHost.Describe(_host.TakeLags())}");
        if (_cpu is not null)
        {
            Console.WriteLine($"// cpu ({Provider}, batch {GroupSize}, WriterSustained after warm-up) {_cpu.Describe(_host.Persisted)}");
        }

        _host.DisposeAsync().AsTask().GetAwaiter().GetResult();
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
            await _host.Store.AppendAsync(group);
        }
    }

    /// <summary>Sustained: 50,000 closed candles of 20 symbols through the event writer, until all are committed.</summary>
    [Benchmark(OperationsPerInvoke = WriterEvents)]
    public async Task WriterSustained()
    {
        var target = _host.Persisted + WriterEvents;
        for (var i = 0; i < WriterEvents; i++)
        {
            await _host.Writer.OnCandleAsync(new CandleUpdate("bench", EventsBenchHost.Closed(_candleIndex++).Candle, true, 0, 0, CandleOrigin.Simulated), default);
        }

        await _host.WaitPersistedAsync(target);

        // The CPU per event counts from the end of BenchmarkDotNet's warm-up (one JIT run, three warm-up runs): start-up
        // and tiered compilation would otherwise land on whichever group size runs first.
        if (++_runs == 4)
        {
            _cpu = new CpuPerEvent(_host.Persisted, Provider);
        }
    }
}
