using SignalStream.Engine.Events;
using SignalStream.Hub.Hubs;
using SignalStream.Hub.Hubs.Internal;

namespace SignalStream.Hub.FanOut.Internal;

/// <summary>What every <see cref="SymbolFeed"/> of a node shares.</summary>
internal sealed class FeedContext(
    SignalHubOptions options,
    ISignalHistory? history,
    HubMetrics metrics,
    TimeProvider time,
    ILogger logger,
    Action<ConnectionState> onSlowConsumer)
{
    public SignalHubOptions Options { get; } = options;

    /// <summary>The store; null on a node without one (then holes cannot be repaired and resume uses memory only).</summary>
    public ISignalHistory? History { get; } = history;

    public HubMetrics Metrics { get; } = metrics;

    public TimeProvider Time { get; } = time;

    public ILogger Logger { get; } = logger;

    public void SlowConsumer(ConnectionState connection) => onSlowConsumer(connection);
}

/// <summary>An item of a symbol's ordered inbound queue: a signal, an outcome, a candle update, or a catch-up.</summary>
internal readonly record struct FeedItem(Contracts.Signal? Signal, Contracts.SignalOutcome? Outcome, Contracts.CandleMessage? Candle = null)
{
    /// <summary>Compare the delivered seq with the store and fill what is missing (after a bus outage, or periodically).</summary>
    public static FeedItem CatchUp => default;
}
