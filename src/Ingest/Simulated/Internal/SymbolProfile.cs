namespace SignalStream.Ingest.Simulated.Internal;

/// <summary>Plausible price level, volatility, liquidity and tick sizes for one simulated symbol.</summary>
internal sealed record SymbolProfile(
    string Symbol,
    double InitialPrice,
    double AnnualVolatility,
    double NotionalPerMinute,
    int PriceScale,
    int VolumeScale)
{
    // Rough levels of the real markets (2024), so simulated charts look familiar; anything else gets a hashed profile.
    private static readonly Dictionary<string, (double Price, double Vol, double Notional)> s_known = new(StringComparer.Ordinal)
    {
        ["BTCUSDT"] = (65_000, 0.55, 2_500_000),
        ["ETHUSDT"] = (3_200, 0.70, 1_200_000),
        ["BNBUSDT"] = (580, 0.60, 150_000),
        ["SOLUSDT"] = (150, 0.90, 400_000),
        ["XRPUSDT"] = (0.55, 0.80, 200_000),
        ["ADAUSDT"] = (0.45, 0.85, 80_000),
        ["DOGEUSDT"] = (0.12, 1.00, 150_000),
        ["LTCUSDT"] = (80, 0.75, 60_000),
        ["AVAXUSDT"] = (35, 0.95, 70_000),
        ["LINKUSDT"] = (15, 0.90, 60_000),
    };

    public static SymbolProfile For(string symbol)
    {
        double price, vol, notional;
        if (s_known.TryGetValue(symbol, out var known))
        {
            (price, vol, notional) = known;
        }
        else
        {
            var rng = new SimulationRandom(SimulationRandom.StableHash(symbol) ^ 0x5EED_0F_5111B01UL);
            price = Math.Pow(10, -2 + (5 * rng.NextDouble()));          // 0.01 … 1,000
            vol = 0.5 + (0.7 * rng.NextDouble());                        // 50 % … 120 % a year
            notional = Math.Pow(10, 4.3 + (1.4 * rng.NextDouble()));      // 20k … 500k USDT a minute
        }

        var magnitude = (int)Math.Floor(Math.Log10(price));
        return new SymbolProfile(
            symbol,
            price,
            vol,
            notional,
            PriceScale: Math.Clamp(6 - magnitude, 0, 8),
            VolumeScale: Math.Clamp(magnitude + 1, 0, 8));
    }
}
