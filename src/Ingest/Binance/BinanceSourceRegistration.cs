using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using SignalStream.Hosting;

namespace SignalStream.Ingest.Binance;

/// <summary>Registers the <c>binance</c> candle source (Ingest:Source=binance).</summary>
public static class BinanceSourceRegistration
{
    /// <summary>Adds the Binance source with <see cref="BinanceOptions"/> bound from <c>Ingest:Binance</c> and validated at start.</summary>
    public static IServiceCollection AddBinanceSource(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<BinanceOptions>()
            .Bind(configuration.GetSection(BinanceOptions.SectionName))
            .ValidateOnStart(static o => o.Validate());
        services.TryAddSingleton(TimeProvider.System);
        services.AddMetrics();
        // The source logs its own REST outcomes (rate limits, retries, refusals); four lines per request from the
        // default HttpClient loggers would drown them during warm-up and backfill.
        services.AddHttpClient(BinanceCandleSource.HttpClientName, client => client.Timeout = TimeSpan.FromSeconds(30))
            .RemoveAllLoggers();
        services.AddSingleton<BinanceCandleSource>();
        services.AddSingleton<ICandleSource>(sp => sp.GetRequiredService<BinanceCandleSource>());
        return services;
    }
}
