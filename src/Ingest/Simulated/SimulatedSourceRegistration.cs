using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using SignalStream.Hosting;

namespace SignalStream.Ingest.Simulated;

/// <summary>Registers the <c>simulated</c> candle source (Ingest:Source=simulated).</summary>
public static class SimulatedSourceRegistration
{
    public static IServiceCollection AddSimulatedSource(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<SimulatedSourceOptions>()
            .Bind(configuration.GetSection(SimulatedSourceOptions.SectionName))
            .ValidateOnStart(static o => o.Validate());
        services.TryAddSingleton(TimeProvider.System);
        services.AddSingleton<ICandleSource, SimulatedCandleSource>();
        return services;
    }
}
