using System.Diagnostics;
using BenchmarkDotNet.Attributes;
using SignalStream.Contracts;

namespace SignalStream.Benchmarks.Events;

/// <summary>
/// Persistence lag at a steady rate rather than in saturating bursts: closed candles of 100 symbols are offered to the
/// event writer at <see cref="Rate"/> events/s for SIGNALSTREAM_BENCH_PACED_SECONDS (default 20), then the run waits for
/// the last commit. Each iteration prints the lag (creation → commit acknowledged) percentiles and the rate reached;
/// the reported time is per event offered, so it is pacing-bound (1 / rate) unless the store falls behind.
/// </summary>
[MemoryDiagnoser]
public class EventWriterPacedBenchmarks
{
    private const int Symbols = 100;

    private EventsBenchHost _host = null!;
    private long _candleIndex;

    public static IEnumerable<string> Providers => EventsBenchHost.Providers;

    [ParamsSource(nameof(Providers))]
    public string Provider { get; set; } = "file";

    [Params(20_000, 100_000)]
    public int Rate { get; set; }

    private static TimeSpan Duration =>
        TimeSpan.FromSeconds(int.TryParse(Environment.GetEnvironmentVariable("SIGNALSTREAM_BENCH_PACED_SECONDS"), out var s) && s > 0 ? s : 20);

    [GlobalSetup]
    public void Setup() => _host = EventsBenchHost.Start(Provider, groupSize: 8192);

    [GlobalCleanup]
    public void Cleanup() => _host.DisposeAsync().AsTask().GetAwaiter().GetResult();

    [IterationSetup]
    public void ForgetEarlierLags() => _host.TakeLags();

    [Benchmark]
    public async Task Paced()
    {
        var duration = Duration;
        var start = _host.Persisted;
        var cpu = new CpuPerEvent(start, Provider);
        var clock = Stopwatch.StartNew();
        long offered = 0;
        while (clock.Elapsed < duration)
        {
            // Catch up to the schedule every tick: a late timer does not lower the rate, it makes the next step larger.
            var due = (long)(clock.Elapsed.TotalSeconds * Rate);
            for (; offered < due; offered++)
            {
                if ((offered & 1023) == 0 && clock.Elapsed >= duration)
                {
                    // Pushed back so far that the schedule cannot be met: stop offering at the end of the window.
                    break;
                }

                await _host.Writer.OnCandleAsync(new CandleUpdate("bench", EventsBenchHost.Closed(_candleIndex++, Symbols).Candle, true, 0, 0, CandleOrigin.Simulated), default);
            }

            await Task.Delay(1);
        }

        var offering = clock.Elapsed;
        await _host.WaitPersistedAsync(start + offered);
        var total = clock.Elapsed;
        Console.WriteLine(
            $"// paced ({Provider}, {Rate}/s target): offered {offered / offering.TotalSeconds:F0}/s for {offering.TotalSeconds:F1} s, " +
            $"all committed after {total.TotalSeconds:F1} s; lag {EventsBenchHost.Describe(_host.TakeLags())}; {cpu.Describe(_host.Persisted)}");
    }
}
