using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace SignalStream.Ingest.Simulated;

/// <summary>Registers the <c>simulated</c> candle source (Ingest:Source=simulated).</summary>
public static class SimulatedSourceRegistration
{
    public static IServiceCollection AddSimulatedSource(this IServiceCollection services, IConfiguration configuration)
    {
        // Filled in by the simulated source's own work; registering nothing makes start-up fail with a DI error naming ICandleSource.
        _ = configuration;
        return services;
    }
}
