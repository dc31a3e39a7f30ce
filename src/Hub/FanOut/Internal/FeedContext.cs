using SignalStream.Hub.Hubs;

namespace SignalStream.Hub.FanOut.Internal;

/// <summary>What every <see cref="SymbolFeed"/> of a node shares.</summary>
internal sealed class FeedContext(
    SignalHubOptions options,
    SignalHistoryReader? history,
    HubMetrics metrics,
    TimeProvider time,
    ILogger logger,
    Action<ConnectionState> onSlowConsumer)
{
    public SignalHubOptions Options { get; } = options;

    /// <summary>The store, every read bounded in time; null on a node without one (then holes cannot be repaired and
    /// resume uses memory only).</summary>
    public SignalHistoryReader? History { get; } = history;

    public HubMetrics Metrics { get; } = metrics;

    public TimeProvider Time { get; } = time;

    public ILogger Logger { get; } = logger;

    public void SlowConsumer(ConnectionState connection) => onSlowConsumer(connection);
}

/// <summary>An item of a symbol's ordered inbound queue: a signal, an outcome, a candle update, or a catch-up.</summary>
internal readonly record struct FeedItem(
    Contracts.Signal? Signal, Contracts.SignalOutcome? Outcome, Contracts.CandleMessage? Candle = null, long CatchUpTo = 0, long CatchUpOutcomesTo = 0)
{
    /// <summary>Fill from the store what was not delivered up to <paramref name="seq"/> and <paramref name="outcomeSeq"/>,
    /// the store's last ones as read (outside the delivery lock) after a bus outage or periodically.</summary>
    public static FeedItem CatchUp(long seq, long outcomeSeq) => new(null, null, null, seq, outcomeSeq);
}
