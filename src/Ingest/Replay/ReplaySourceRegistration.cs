using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using SignalStream.Hosting;

namespace SignalStream.Ingest.Replay;

/// <summary>Registers the <c>replay</c> candle source (Ingest:Source=replay).</summary>
public static class ReplaySourceRegistration
{
    public static IServiceCollection AddReplaySource(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<ReplaySourceOptions>()
            .Bind(configuration.GetSection(ReplaySourceOptions.SectionName))
            .ValidateOnStart(static o => o.Validate());
        services.TryAddSingleton(TimeProvider.System);
        services.AddSingleton<ICandleSource, ReplayCandleSource>();
        return services;
    }
}
