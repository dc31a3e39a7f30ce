using BenchmarkDotNet.Attributes;
using Microsoft.Extensions.Logging.Abstractions;
using SignalStream.Engine.Events;
using SignalStream.EventStore;
using SignalStream.EventStore.File;
using SignalStream.Testing;

namespace SignalStream.Benchmarks.Events;

/// <summary>
/// The projector's read of the file journal: 20,000 events (19 candles to a signal, as in a closing bell's window) read
/// back through the global reader in pages of 2,000, signal data only, as <c>EventProjector</c> asks for it.
/// Per-operation figures are per event.
/// </summary>
[MemoryDiagnoser]
public class FileJournalReadBenchmark
{
    private const int Events = 20_000;
    private const int Page = 2_000;
    private static readonly string[] s_dataOf = [EventSerializer.SignalIssuedType, EventSerializer.SignalResolvedType];

    private string _folder = null!;
    private FileEventStore _store = null!;

    [GlobalSetup]
    public void Setup()
    {
        _folder = Path.Combine(Path.GetTempPath(), "signalstream-read-bench-" + Guid.NewGuid().ToString("N"));
        _store = new FileEventStore(new FileJournalOptions { Path = _folder }, TimeProvider.System, NullLogger<FileEventStore>.Instance);
        _store.InitializeAsync().AsTask().GetAwaiter().GetResult();
        var now = DateTimeOffset.UtcNow;
        var seq = 0L;
        for (var group = 0; group < Events / 500; group++)
        {
            var candles = new List<EventData>();
            var signals = new List<EventData>();
            for (var i = 0; i < 500; i++)
            {
                if (i % 20 == 19)
                {
                    signals.Add(EventSerializer.Serialize(new SignalIssued(TestSignals.Signal("BTCUSDT", ++seq)), Guid.NewGuid(), now));
                }
                else
                {
                    candles.Add(EventSerializer.Serialize(EventsBenchHost.Closed((group * 500) + i), Guid.NewGuid(), now));
                }
            }

            _store.AppendAsync(
            [
                new StreamAppend(EventStreams.Candles(new("BTCUSDT", Contracts.Timeframe.OneMinute)), EventStreams.CandlesType, ExpectedVersions.Any, candles),
                new StreamAppend(EventStreams.Signals("BTCUSDT"), EventStreams.SignalsType, ExpectedVersions.Any, signals),
            ]).AsTask().GetAwaiter().GetResult();
        }
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _store.DisposeAsync().AsTask().GetAwaiter().GetResult();
        Directory.Delete(_folder, recursive: true);
    }

    [Benchmark(OperationsPerInvoke = Events)]
    public async Task<int> GlobalReadSignalDataOnly()
    {
        await using var reader = _store.OpenGlobalReader(0, s_dataOf);
        var read = 0;
        IReadOnlyList<StoredEvent> page;
        do
        {
            page = await reader.ReadNextAsync(Page);
            read += page.Count;
        }
        while (page.Count == Page);

        return read;
    }
}
