using System.Diagnostics.Metrics;
using BenchmarkDotNet.Attributes;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using SignalStream.Hub.MetricsExporter;
using SignalStream.Hub.MetricsExporter.Internal;

namespace SignalStream.Benchmarks.Observability;

/// <summary>Cost of a measurement through our MeterListener, and of rendering a scrape.</summary>
[MemoryDiagnoser]
public class MetricsExporterBenchmarks
{
    private static readonly KeyValuePair<string, object?> Exchange = new("exchange", "binance");
    private static readonly KeyValuePair<string, object?> Timeframe = new("timeframe", "1m");
    private ServiceProvider _services = null!;
    private PrometheusCollector _collector = null!;
    private Counter<long> _counter = null!;
    private Histogram<double> _histogram = null!;

    [GlobalSetup]
    public void Setup()
    {
        var services = new ServiceCollection();
        services.AddMetrics();
        services.AddLogging(l => l.SetMinimumLevel(LogLevel.Warning));
        services.AddOptions<MetricsExporterOptions>();
        services.AddSingleton<PrometheusCollector>();
        _services = services.BuildServiceProvider();
        _collector = _services.GetRequiredService<PrometheusCollector>();
        _collector.Start();
#pragma warning disable CA2000 // the IMeterFactory owns its meters and disposes them with _services
        var meter = _services.GetRequiredService<IMeterFactory>().Create("SignalStream.Bench");
#pragma warning restore CA2000
        _counter = meter.CreateCounter<long>("signalstream_candles_closed_total");
        _histogram = meter.CreateHistogram<double>("signalstream_pipeline_latency_seconds");
        // A realistic scrape: 5 symbols x 4 timeframes of counters, a latency histogram per timeframe.
        foreach (var symbol in new[] { "BTCUSDT", "ETHUSDT", "BNBUSDT", "SOLUSDT", "XRPUSDT" })
        {
            foreach (var tf in new[] { "1m", "5m", "15m", "1h" })
            {
                _counter.Add(1, new("symbol", symbol), new("timeframe", tf));
                _histogram.Record(0.003, new KeyValuePair<string, object?>("timeframe", tf));
            }
        }
    }

    [GlobalCleanup]
    public void Cleanup() => _services.Dispose();

    [Benchmark]
    public void CounterAddTwoTags() => _counter.Add(1, Exchange, Timeframe);

    [Benchmark]
    public void HistogramRecordOneTag() => _histogram.Record(0.0042, Timeframe);

    [Benchmark]
    public int Scrape()
    {
        using var writer = new PrometheusTextWriter();
        _collector.Collect(writer);
        return writer.WrittenSpan.Length;
    }
}
