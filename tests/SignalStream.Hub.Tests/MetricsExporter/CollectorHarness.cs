using System.Diagnostics.Metrics;
using System.Text;
using Microsoft.Extensions.DependencyInjection;
using SignalStream.Hub.MetricsExporter;
using SignalStream.Hub.MetricsExporter.Internal;
using SignalStream.Hub.Tests.Observability;

namespace SignalStream.Hub.Tests.MetricsExporter;

/// <summary>A started collector over its own meter factory, without a web host: for exporter unit tests.</summary>
internal sealed class CollectorHarness : IDisposable
{
    private readonly ServiceProvider _services;

    public CollectorHarness(Action<MetricsExporterOptions>? configure = null)
    {
        var services = new ServiceCollection();
        services.AddMetrics();
        services.AddLogging();
        services.AddOptions<MetricsExporterOptions>().Configure(o => configure?.Invoke(o));
        services.AddSingleton<PrometheusCollector>();
        _services = services.BuildServiceProvider();
        MeterFactory = _services.GetRequiredService<IMeterFactory>();
        Collector = _services.GetRequiredService<PrometheusCollector>();
        Collector.Start();
        Meter = MeterFactory.Create("SignalStream.Test");
    }

    public IMeterFactory MeterFactory { get; }

    public PrometheusCollector Collector { get; }

    /// <summary>A meter whose instruments are exported under their own names (it starts with "SignalStream.").</summary>
    public Meter Meter { get; }

    public string ScrapeText()
    {
        using var writer = new PrometheusTextWriter(256);
        Collector.Collect(writer);
        return Encoding.UTF8.GetString(writer.WrittenSpan);
    }

    public IReadOnlyDictionary<string, Family> Scrape() => ExpositionParser.Parse(ScrapeText());

    public void Dispose() => _services.Dispose();
}
