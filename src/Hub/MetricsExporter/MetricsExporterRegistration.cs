using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using SignalStream.Hosting;
using SignalStream.Hub.MetricsExporter.Internal;

namespace SignalStream.Hub.MetricsExporter;

/// <summary>
/// The Prometheus exporter: a listener over the exported meters (ours, ASP.NET Core's and the runtime's, see
/// <see cref="MetricsExporterOptions"/>) that aggregates every measurement as it arrives, and the text exposition
/// (format 0.0.4) it renders on each scrape of <c>Observability:Path</c>. The metric names and types are the contract
/// in docs/operations.md; everything else is in <c>Internal</c>.
/// </summary>
public static class MetricsExporterRegistration
{
    /// <summary>
    /// Adds the exporter with <see cref="MetricsExporterOptions"/> validated at start. Its listener starts with the host,
    /// so register it before the services whose measurements it should see from their first one.
    /// </summary>
    public static IServiceCollection AddPrometheusExporter(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddMetrics();
        services.AddOptions<MetricsExporterOptions>()
            .Bind(configuration.GetSection(MetricsExporterOptions.SectionName))
            .ValidateOnStart(static o => o.Validate());
        services.TryAddSingleton<PrometheusCollector>();
        services.AddHostedService<MetricsHostedService>();
        return services;
    }

    /// <summary>Maps GET <c>Observability:Path</c> (default <c>/metrics</c>) to the exposition.</summary>
    public static WebApplication MapPrometheusExporter(this WebApplication app)
    {
        var options = app.Services.GetRequiredService<IOptions<MetricsExporterOptions>>().Value;
        app.MapGet(options.Path, MetricsEndpoint.WriteAsync).ExcludeFromDescription();
        return app;
    }
}
