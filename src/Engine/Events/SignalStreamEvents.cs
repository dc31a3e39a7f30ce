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

/// <summary>
/// An alert of a TradingView webhook source as the engine accepted it (docs/signals.md, "TradingView alerts"). Stored in
/// its symbol's <c>alerts-{SYMBOL}</c> stream before anything it causes (its signal, its would-be signal), so a restart
/// and a replay can rebuild standing votes, exits and the duplicate window from the store.
/// </summary>
public sealed record TradingViewAlertReceived : ISignalStreamEvent
{
    /// <summary>The stored event's id, which the webhook answers with its 202.</summary>
    public required Guid Id { get; init; }

    /// <summary><c>tradingview:{name}</c>.</summary>
    public required string Source { get; init; }

    /// <summary><c>signal</c> or <c>vote</c>: the source's mode when the alert arrived.</summary>
    public required string Mode { get; init; }

    /// <summary>The alert's action, lower-case as sent: <c>buy</c>, <c>sell</c>, <c>long</c>, <c>short</c> or <c>exit</c>.</summary>
    public required string Action { get; init; }

    public required string Symbol { get; init; }

    public required Timeframe Timeframe { get; init; }

    public required decimal Price { get; init; }

    public decimal? Stop { get; init; }

    public decimal? Target { get; init; }

    public string? Strategy { get; init; }

    public string? Comment { get; init; }

    /// <summary>The ticker as sent (<c>BINANCE:BTCUSDT</c>).</summary>
    public required string Ticker { get; init; }

    /// <summary>The interval as sent (<c>15</c>), when it was.</summary>
    public string? Interval { get; init; }

    /// <summary>What a retry of this alert is recognised by: the body's <c>id</c>, or the SHA-256 of the body.</summary>
    public required string DedupeKey { get; init; }

    /// <summary>When the webhook received it (Unix ms).</summary>
    public required long ReceivedAt { get; init; }

    /// <summary>
    /// The stream's market time when the alert arrived: the close time of its last closed candle. A vote counts, and an
    /// exit closes, from the first candle that closes after it; replay uses it to do the same at the same candle.
    /// </summary>
    public required long MarketTime { get; init; }

    /// <summary>
    /// Signal mode: the signal as published, before its seq (seq 0; find it by id in the signals stream). Vote mode: the
    /// alert's own would-be signal, journaled and scored like a shadow model's. Null for <c>exit</c>.
    /// </summary>
    public Signal? Signal { get; init; }

    /// <summary>Vote mode (not <c>exit</c>): what the alert adds to the ensemble vote of its stream.</summary>
    public AlertVote? Vote { get; init; }
}

/// <summary>A TradingView alert's vote in the ensemble of its symbol and timeframe.</summary>
/// <param name="Weight">Its ensemble weight (the configured one, or as learned from the source's record when it arrived).</param>
/// <param name="Probabilities">What it adds to the vote: P(direction) = the source's confidence, the rest split evenly.</param>
/// <param name="ValidAfter">It counts for candles closing after this (the alert's market time)…</param>
/// <param name="ExpiresAt">…up to and including this close time.</param>
public sealed record AlertVote(double Weight, ClassProbabilities Probabilities, long ValidAfter, long ExpiresAt);
