using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using SignalStream.Hosting;
using SignalStream.Ingest.Binance;
using SignalStream.Ingest.Replay;
using SignalStream.Ingest.Simulated;

namespace SignalStream.Ingest;

/// <summary>
/// Registers the configured candle source (<c>Ingest:Source</c>, with its own options section validated at start), the
/// candle channel and the service that runs the source.
/// </summary>
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
                services.AddOptions<SimulatedSourceOptions>()
                    .Bind(configuration.GetSection(SimulatedSourceOptions.SectionName))
                    .ValidateOnStart(static o => o.Validate());
                services.AddSingleton<ICandleSource, SimulatedCandleSource>();
                break;
            case IngestSource.Replay:
                services.AddOptions<ReplaySourceOptions>()
                    .Bind(configuration.GetSection(ReplaySourceOptions.SectionName))
                    .ValidateOnStart(static o => o.Validate());
                services.AddSingleton<ICandleSource, ReplayCandleSource>();
                break;
            default:
                services.AddOptions<BinanceOptions>()
                    .Bind(configuration.GetSection(BinanceOptions.SectionName))
                    .ValidateOnStart(static o => o.Validate());
                // The source logs its own REST outcomes (rate limits, retries, refusals); four lines per request from the
                // default HttpClient loggers would drown them during warm-up and backfill.
                services.AddHttpClient(BinanceCandleSource.HttpClientName, client => client.Timeout = TimeSpan.FromSeconds(30))
                    .RemoveAllLoggers();
                services.AddSingleton<BinanceCandleSource>();
                services.AddSingleton<ICandleSource>(sp => sp.GetRequiredService<BinanceCandleSource>());
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
