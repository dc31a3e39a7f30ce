using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace SignalStream.Ingest.Replay;

/// <summary>Registers the <c>replay</c> candle source (Ingest:Source=replay).</summary>
public static class ReplaySourceRegistration
{
    public static IServiceCollection AddReplaySource(this IServiceCollection services, IConfiguration configuration)
    {
        // Filled in by the replay source's own work; registering nothing makes start-up fail with a DI error naming ICandleSource.
        _ = configuration;
        return services;
    }
}
