using SignalStream.Contracts;

namespace SignalStream.Engine.Signals;

/// <summary>
/// The ids the engine gives the signals it decides on a candle's close: deterministic, so a restart knows from the
/// stored signals which candles were decided before it.
/// </summary>
public static class SignalIds
{
    /// <summary>The published signal of a candle: <c>BTCUSDT-1m-{open time}</c>.</summary>
    public static string ForCandle(in Candle candle) => ForCandle(candle.Symbol, candle.Timeframe, candle.OpenTime);

    /// <summary>A shadow model's would-be signal of a candle: <c>BTCUSDT-1m-{open time}-shadow-{model}</c>.</summary>
    public static string ForShadow(in Candle candle, string model) => $"{ForCandle(candle)}-shadow-{model}";

    /// <summary>
    /// Whether a stored signal was decided on the close of the candle it names (a model's signal, live or shadow),
    /// rather than on a TradingView alert, whose candle is the one in progress when it came.
    /// </summary>
    public static bool IsCandleDecision(Signal signal)
    {
        ArgumentNullException.ThrowIfNull(signal);
        var id = ForCandle(signal.Symbol, signal.Timeframe, signal.CandleOpenTime);
        return signal.Id.StartsWith(id, StringComparison.Ordinal)
            && (signal.Id.Length == id.Length || signal.Id.AsSpan(id.Length).StartsWith("-shadow-", StringComparison.Ordinal));
    }

    private static string ForCandle(string symbol, Timeframe timeframe, long openTime) => $"{symbol}-{timeframe.ToName()}-{openTime}";
}
