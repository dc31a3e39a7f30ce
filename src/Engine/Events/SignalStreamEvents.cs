using SignalStream.Contracts;

namespace SignalStream.Engine.Events;

/// <summary>A domain event of SignalStream. Each type has a stable name and a schema version (see <c>docs/events.md</c>).</summary>
public interface ISignalStreamEvent;

/// <summary>A closed candle as it reached the engine: the full candle plus where and when it came from.</summary>
/// <param name="Exchange">Lower-case exchange name.</param>
/// <param name="Candle">The final candle.</param>
/// <param name="Origin">Live, backfill, simulated, replay or history.</param>
/// <param name="EventTime">The exchange's event time (Unix ms).</param>
/// <param name="ReceivedAt">When this process received it (Unix ms).</param>
public sealed record CandleClosed(string Exchange, Candle Candle, CandleOrigin Origin, long EventTime, long ReceivedAt) : ISignalStreamEvent;

/// <summary>A published signal, stored in its symbol's signals stream at version == <see cref="Signal.Seq"/>.</summary>
public sealed record SignalIssued(Signal Signal) : ISignalStreamEvent;

/// <summary>A shadow model's would-be signal: journaled and scored, never published.</summary>
public sealed record ShadowSignalIssued(Signal Signal) : ISignalStreamEvent;

/// <summary>A live or shadow signal resolved to win, loss or expired.</summary>
public sealed record SignalResolved(SignalOutcome Outcome) : ISignalStreamEvent;

/// <summary>A model version became active (or shadow) in this engine.</summary>
/// <param name="Name">Model name from its manifest.</param>
/// <param name="Version">Model version from its manifest.</param>
/// <param name="Sha256">SHA-256 of the model file, lower-case hex: replay checks it to run exactly what was live.</param>
/// <param name="Status"><c>active</c> or <c>shadow</c>.</param>
/// <param name="ActivatedAt">Unix ms.</param>
public sealed record ModelActivated(string Name, string Version, string Sha256, string Status, long ActivatedAt) : ISignalStreamEvent;

/// <summary>A model version stopped being used (replaced, removed or failed to load).</summary>
public sealed record ModelDeactivated(string Name, string Version, string Reason, long DeactivatedAt) : ISignalStreamEvent;

/// <summary>Stream names: one stream per symbol for signals, one per symbol and timeframe for candles.</summary>
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

    /// <summary>Stream type of the <see cref="Models"/> stream.</summary>
    public const string ModelsType = "models";

    /// <summary>The signals of a symbol; version == signal seq.</summary>
    public static string Signals(string symbol, string? ns = null) => Prefix(ns) + "signals-" + symbol;

    /// <summary>The closed candles of one symbol at one timeframe.</summary>
    public static string Candles(StreamKey key, string? ns = null) => Prefix(ns) + "candles-" + key.Symbol + "-" + key.Timeframe.ToName();

    /// <summary>Shadow signals of a symbol.</summary>
    public static string ShadowSignals(string symbol, string? ns = null) => Prefix(ns) + "shadow-signals-" + symbol;

    /// <summary>Outcomes (live and shadow) of a symbol's signals.</summary>
    public static string Outcomes(string symbol, string? ns = null) => Prefix(ns) + "outcomes-" + symbol;

    /// <summary>Model activations and deactivations.</summary>
    public static string Models(string? ns = null) => Prefix(ns) + "models";

    private static string Prefix(string? ns) => string.IsNullOrEmpty(ns) ? string.Empty : ns + "/";
}
