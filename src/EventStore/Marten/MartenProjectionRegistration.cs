using global::Marten.Events.Daemon.Coordination;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using SignalStream.Engine.Journal;

namespace SignalStream.EventStore.Marten;

/// <summary>The Marten provider's performance projection: its daemon (hot/cold across nodes) and the report it serves.</summary>
internal static class MartenProjectionRegistration
{
    public static IServiceCollection AddMartenPerformanceProjection(this IServiceCollection services)
    {
        services.AddSingleton(sp => (MartenEventStore)sp.GetRequiredService<IEventStore>());
        services.AddSingleton<IStoredPerformanceReport>(sp => new MartenPerformanceReport(
            sp.GetRequiredService<MartenEventStore>(), sp.GetRequiredService<TimeProvider>()));
        services.AddHostedService(sp => new MartenProjectionHost(
            sp.GetRequiredService<MartenEventStore>(), sp.GetRequiredService<ILogger<ProjectionCoordinator>>()));
        return services;
    }
}
