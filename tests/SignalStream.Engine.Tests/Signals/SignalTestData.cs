using SignalStream.Contracts;
using SignalStream.Engine.Features;
using SignalStream.Engine.Inference;
using SignalStream.Engine.Signals;
using SignalStream.Engine.Signals.Internal;

namespace SignalStream.Engine.Tests.Signals;

/// <summary>Builders for candles, predictions and rules used across the signal tests.</summary>
internal static class SignalTestData
{
    /// <summary>2024-01-01 00:00 UTC.</summary>
    public const long T0 = 1_704_067_200_000;

    public static SignalRules Rules(Action<SignalsOptions>? configure = null)
    {
        var options = new SignalsOptions();
        configure?.Invoke(options);
        Assert.Empty(options.Validate());
        return new SignalRules(options);
    }

    public static ModelPrediction Lstm(double down, double flat, double up, double weight = 0.6, string name = "lstm-direction", bool shadow = false) =>
        new(name, "1.0.0", "lstm", shadow, weight, (float)down, (float)flat, (float)up);

    public static ModelPrediction PatchTst(double down, double flat, double up, double weight = 0.4, string name = "patchtst-direction", bool shadow = false) =>
        new(name, "1.0.0", "patchtst", shadow, weight, (float)down, (float)flat, (float)up);

    public static Candle Candle(
        Timeframe timeframe, long openTime, decimal close, decimal? high = null, decimal? low = null, string symbol = "BTCUSDT") =>
        new(symbol, timeframe, openTime, timeframe.CloseTimeOf(openTime), close, high ?? close, low ?? close, close, 10m, 10m * close, 100, 5m, 5m * close);

    /// <summary>The n-th candle (0-based) after <see cref="T0"/>.</summary>
    public static Candle Nth(Timeframe timeframe, int n, decimal close, decimal? high = null, decimal? low = null, string symbol = "BTCUSDT") =>
        Candle(timeframe, T0 + (n * (long)timeframe.NominalDuration().TotalMilliseconds), close, high, low, symbol);

    public static ClosedCandleResult Result(
        Candle candle,
        double atr,
        IReadOnlyList<ModelPrediction> predictions,
        double rsi = 50,
        double macd = 0,
        CandleOrigin origin = CandleOrigin.Simulated) =>
        new(
            new CandleUpdate("simulated", candle, IsClosed: true, candle.CloseTime + 5, candle.CloseTime + 7, origin),
            new IndicatorSnapshot((double)candle.Close, atr, rsi, macd, 0.5, 0.01, 0),
            predictions);
}
