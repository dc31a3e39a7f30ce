using Microsoft.Extensions.DependencyInjection.Extensions;
using SignalStream.Hub.MetricsExporter;
using SignalStream.Hub.Observability.Logging;

namespace SignalStream.Hub.Observability;

/// <summary>Registers the metrics exporter and the process's own series, maps <c>/metrics</c>; configures logging.</summary>
public static class ObservabilityRegistration
{
    /// <summary>
    /// Metrics: the Prometheus exporter (<see cref="MetricsExporterRegistration"/>) over our meters, ASP.NET Core's and
    /// the runtime's, and the process's own series (<see cref="ProcessMetrics"/>), exported at <c>Observability:Path</c>.
    /// Logs: <c>Logging:Format</c> = <c>simple</c> (default) or <c>json</c> (one JSON object a line, with scopes and
    /// event ids); request URLs are logged without credentials.
    /// </summary>
    public static IServiceCollection AddSignalStreamObservability(this IServiceCollection services, IConfiguration configuration)
    {
        services.TryAddSingleton(TimeProvider.System);
        services.AddPrometheusExporter(configuration);
        services.AddHostedService<ProcessMetrics>();

        services.AddLogging(logging => ConfigureLogging(logging, configuration));
        services.AddTransient<IStartupFilter, RequestLoggingStartupFilter>();
        return services;
    }

    /// <summary>Maps the Prometheus endpoint (GET <c>/metrics</c> unless <c>Observability:Path</c> says otherwise).</summary>
    public static WebApplication MapSignalStreamObservability(this WebApplication app) => app.MapPrometheusExporter();

    private static void ConfigureLogging(ILoggingBuilder logging, IConfiguration configuration)
    {
        var format = configuration["Logging:Format"]?.Trim();
        bool printsScopes;
        switch (format?.ToLowerInvariant())
        {
            case null or "" or "simple":
                printsScopes = configuration.GetValue<bool>("Logging:Console:FormatterOptions:IncludeScopes");
                break;
            case "json":
                printsScopes = true;
                logging.AddJsonConsole(options =>
                {
                    options.IncludeScopes = true;
                    options.UseUtcTimestamp = true;
                    options.TimestampFormat = "yyyy-MM-ddTHH:mm:ss.fffZ";
                });
                break;
            default:
                throw new InvalidOperationException(
                    $"Logging:Format is '{format}'; use 'simple' (human-readable console) or 'json' (one JSON object a line).");
        }

        // Kestrel, hosting and SignalR open a log scope per connection and request, and a WebSocket keeps its scopes
        // (and the execution contexts that carry them) for its whole life: about 0.4 KB a connection that no line
        // prints unless the format shows scopes (BENCHMARKS.md, "Memory per idle connection").
        logging.Services.Configure<LoggerFilterOptions>(options => options.CaptureScopes = printsScopes);

        // ASP.NET Core's request lines print the raw URL, including a SignalR ?access_token=; ours redact it. Off, not
        // Warning: while this category is on at any level, ASP.NET Core starts an Activity for every request (unless
        // tracing listens anyway), and a WebSocket holds it for its whole life (about 0.6 KB a connection). The
        // category logs nothing above Information while serving requests.
        logging.AddFilter("Microsoft.AspNetCore.Hosting.Diagnostics", LogLevel.None);
    }
}
