using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using SignalStream.Hub.Observability.Internal;
using SignalStream.Hub.Observability.Logging;

namespace SignalStream.Hub.Observability;

/// <summary>Registers metrics collection and maps <c>/metrics</c> (Prometheus text exposition); configures logging.</summary>
public static class ObservabilityRegistration
{
    /// <summary>
    /// Metrics: a listener over our meters, ASP.NET Core's and the runtime's, exported at <c>Observability:Path</c>.
    /// Logs: <c>Logging:Format</c> = <c>simple</c> (default) or <c>json</c> (one JSON object a line, with scopes and
    /// event ids); request URLs are logged without credentials.
    /// </summary>
    public static IServiceCollection AddSignalStreamObservability(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddMetrics();
        services.TryAddSingleton(TimeProvider.System);
        services.AddOptions<ObservabilityOptions>()
            .Bind(configuration.GetSection(ObservabilityOptions.SectionName))
            .ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<ObservabilityOptions>, ObservabilityOptionsValidator>());
        services.TryAddSingleton<PrometheusCollector>();
        services.TryAddSingleton<ProcessMetrics>();
        services.AddHostedService<MetricsHostedService>();

        services.AddLogging(logging => ConfigureLogging(logging, configuration));
        services.AddTransient<IStartupFilter, RequestLoggingStartupFilter>();
        return services;
    }

    /// <summary>Maps the Prometheus endpoint (GET <c>/metrics</c> unless <c>Observability:Path</c> says otherwise).</summary>
    public static WebApplication MapSignalStreamObservability(this WebApplication app)
    {
        var options = app.Services.GetRequiredService<IOptions<ObservabilityOptions>>().Value;
        app.MapGet(options.Path, MetricsEndpoint.WriteAsync).ExcludeFromDescription();
        return app;
    }

    private static void ConfigureLogging(ILoggingBuilder logging, IConfiguration configuration)
    {
        var format = configuration["Logging:Format"]?.Trim();
        switch (format?.ToLowerInvariant())
        {
            case null or "" or "simple":
                break;
            case "json":
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

        // ASP.NET Core's request lines print the raw URL, including a SignalR ?access_token=; ours redact it.
        logging.AddFilter("Microsoft.AspNetCore.Hosting.Diagnostics", LogLevel.Warning);
    }
}
