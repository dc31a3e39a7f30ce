using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace SignalStream.Ingest.Binance;

/// <summary>Registers the <c>binance</c> candle source (Ingest:Source=binance).</summary>
public static class BinanceSourceRegistration
{
    public static IServiceCollection AddBinanceSource(this IServiceCollection services, IConfiguration configuration)
    {
        // Filled in by the binance source's own work; registering nothing makes start-up fail with a DI error naming ICandleSource.
        _ = configuration;
        return services;
    }
}
