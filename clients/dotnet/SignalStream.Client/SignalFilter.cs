namespace SignalStream.Client;

/// <summary>Which signals of a symbol a subscription wants.</summary>
/// <param name="Timeframes">Only these timeframes (Binance interval names); null or empty for all.</param>
/// <param name="MinConfidence">Only signals with at least this confidence (0–100).</param>
public sealed record SignalFilter(IReadOnlyList<string>? Timeframes = null, double? MinConfidence = null)
{
    /// <summary>Every signal of the symbol.</summary>
    public static SignalFilter All { get; } = new();
}
