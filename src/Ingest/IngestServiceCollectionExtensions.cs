using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using SignalStream.Hosting;
using SignalStream.Ingest.Binance;
using SignalStream.Ingest.Replay;
using SignalStream.Ingest.Simulated;

namespace SignalStream.Ingest;

/// <summary>Registers the configured candle source, the candle channel and the service that runs the source.</summary>
public static class IngestServiceCollectionExtensions
{
    public static IServiceCollection AddSignalStreamIngest(this IServiceCollection services, IConfiguration configuration)
    {
        var section = configuration.GetSection(IngestOptions.SectionName);
        services.AddOptions<IngestOptions>()
            .Bind(section)
            .PostConfigure(o => IngestOptions.ApplyCommaSeparated(section, o))
            .ValidateOnStart(static o => o.Validate());
        services.TryAddSingleton(TimeProvider.System);
        services.AddSingleton(sp => new CandleUpdateChannel(
            sp.GetRequiredService<IOptions<IngestOptions>>().Value.ChannelCapacity, sp.GetRequiredService<TimeProvider>()));
        services.AddMetrics(); // every source records IngestMetrics

        var source = IngestOptions.Bind(configuration).Source;
        switch (source)
        {
            case IngestSource.Simulated:
                services.AddSimulatedSource(configuration);
                break;
            case IngestSource.Replay:
                services.AddReplaySource(configuration);
                break;
            default:
                services.AddBinanceSource(configuration);
                break;
        }

        if (source is not IngestSource.Replay)
        {
            // A replay ends when its file does; only a live source going quiet means the node is not serving fresh data.
            services.AddHealthChecks().AddCheck<IngestFreshnessHealthCheck>("ingest", tags: ["ready"]);
        }

        services.AddHostedService<IngestHostedService>();
        return services;
    }
}
