using SignalStream.Contracts;

namespace SignalStream.EventStore;

/// <summary>Stream names: one stream per symbol for signals and for outcomes, one per symbol and timeframe for candles.</summary>
/// <remarks>A replay writes the same shapes under a namespace prefix (<c>replay-1/signals-BTCUSDT</c>), never into live streams.</remarks>
public static class EventStreams
{
    /// <summary>Stream type of <see cref="Signals"/> streams.</summary>
    public const string SignalsType = "signals";

    /// <summary>Stream type of <see cref="Candles"/> streams.</summary>
    public const string CandlesType = "candles";

    /// <summary>Stream type of <see cref="ShadowSignals"/> streams.</summary>
    public const string ShadowSignalsType = "shadow-signals";

    /// <summary>Stream type of <see cref="Outcomes"/> streams.</summary>
    public const string OutcomesType = "outcomes";

    /// <summary>Stream type of <see cref="ShadowOutcomes"/> streams.</summary>
    public const string ShadowOutcomesType = "shadow-outcomes";

    /// <summary>Stream type of <see cref="Alerts"/> streams.</summary>
    public const string AlertsType = "alerts";

    /// <summary>Stream type of the <see cref="Models"/> stream.</summary>
    public const string ModelsType = "models";

    /// <summary>The signals of a symbol; version == signal seq.</summary>
    public static string Signals(string symbol, string? ns = null) => Prefix(ns) + "signals-" + symbol;

    /// <summary>The closed candles of one symbol at one timeframe.</summary>
    public static string Candles(StreamKey key, string? ns = null) => Prefix(ns) + "candles-" + key.Symbol + "-" + key.Timeframe.ToName();

    /// <summary>Shadow signals of a symbol.</summary>
    public static string ShadowSignals(string symbol, string? ns = null) => Prefix(ns) + "shadow-signals-" + symbol;

    /// <summary>
    /// The published outcomes of a symbol's signals; version == outcomeSeq. Streams written before shadow outcomes had
    /// their own stream hold some of those too (readers skip them; their versions are gaps in the outcomeSeqs).
    /// </summary>
    public static string Outcomes(string symbol, string? ns = null) => Prefix(ns) + "outcomes-" + symbol;

    /// <summary>Outcomes of a symbol's shadow signals (never published, so they take no outcomeSeq).</summary>
    public static string ShadowOutcomes(string symbol, string? ns = null) => Prefix(ns) + "shadow-outcomes-" + symbol;

    /// <summary>TradingView alerts of a symbol, every mode and action.</summary>
    public static string Alerts(string symbol, string? ns = null) => Prefix(ns) + "alerts-" + symbol;

    /// <summary>Model activations and deactivations.</summary>
    public static string Models(string? ns = null) => Prefix(ns) + "models";

    private static string Prefix(string? ns) => string.IsNullOrEmpty(ns) ? string.Empty : ns + "/";
}
