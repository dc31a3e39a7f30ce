using System.Diagnostics.Metrics;
using Microsoft.Extensions.Options;
using SignalStream.Hosting;
using SignalStream.Hub.Hubs;

namespace SignalStream.Hub.FanOut.Redis;

/// <summary>Registers the Redis bus when <c>ConnectionStrings:Redis</c> is set.</summary>
internal static class RedisBusRegistration
{
    public static IServiceCollection AddRedisSignalBus(this IServiceCollection services, IConfiguration configuration, string connectionString)
    {
        services.AddOptions<RedisBusOptions>().Bind(configuration.GetSection(RedisBusOptions.SectionName)).ValidateOnStart(static o => o.Validate());
        services.AddSingleton(sp => new RedisSignalBus(
            connectionString,
            sp.GetRequiredService<IOptions<SignalHubOptions>>().Value.RedisChannelPrefix,
            sp.GetRequiredService<IOptions<RedisBusOptions>>().Value,
            sp.GetRequiredService<HubMetrics>(),
            sp.GetRequiredService<IMeterFactory>(),
            sp.GetRequiredService<ILogger<RedisSignalBus>>()));
        services.AddSingleton<ISignalBus>(sp => sp.GetRequiredService<RedisSignalBus>());
        services.AddHostedService(sp => sp.GetRequiredService<RedisSignalBus>());
        services.AddHealthChecks().AddCheck<RedisHealthCheck>("redis", tags: ["ready"]);
        return services;
    }
}
