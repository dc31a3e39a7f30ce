using SignalStream.Contracts;

namespace SignalStream.Hub.FanOut;

/// <summary>
/// Carries an engine's signals, outcomes and closed candles to every hub node, each published once.
/// </summary>
/// <remarks>
/// The bus may lose messages (Redis pub/sub drops whatever is sent while a subscriber is away): receivers detect the
/// hole through <see cref="Signal.Seq"/> and <see cref="SignalOutcome.OutcomeSeq"/> and repair it from the store (a lost
/// closed candle is not repaired), so an implementation must keep per-symbol order
/// but need not be reliable. Today's implementation is Redis pub/sub (<see cref="Redis.RedisSignalBus"/>); the official
/// SignalR Redis backplane, where available, would sit behind this same seam.
/// </remarks>
internal interface ISignalBus
{
    /// <summary>Whether messages currently reach the bus.</summary>
    bool IsConnected { get; }

    /// <summary>Publishes without waiting; false when the bus is unreachable (the store still has the signal).</summary>
    bool TryPublish(BusMessage message);

    /// <summary>Starts receiving <paramref name="symbol"/>'s messages; safe to repeat; re-established after reconnects.</summary>
    Task SubscribeAsync(string symbol, CancellationToken cancellationToken);

    /// <summary>Sets the one receiver of everything this node subscribed to.</summary>
    void SetListener(IBusListener listener);
}

/// <summary>Receives bus messages; called serially per symbol, in publish order.</summary>
internal interface IBusListener
{
    void OnMessage(BusMessage message);

    /// <summary>The bus came back after an outage: whatever was published meanwhile is lost and must be repaired.</summary>
    void OnBusRestored();
}

/// <summary>What kind of payload a <see cref="BusMessage"/> carries.</summary>
internal enum BusMessageKind : byte
{
    Signal,
    Outcome,
    Candle,
}

/// <summary>One bus message: exactly one of the payloads is set, matching <see cref="Kind"/>.</summary>
internal sealed record BusMessage(BusMessageKind Kind, string Symbol, Signal? Signal, SignalOutcome? Outcome, CandleMessage? Candle)
{
    public static BusMessage For(Signal signal) => new(BusMessageKind.Signal, signal.Symbol, signal, null, null);

    public static BusMessage For(SignalOutcome outcome) => new(BusMessageKind.Outcome, outcome.Symbol, null, outcome, null);

    public static BusMessage For(CandleMessage candle) => new(BusMessageKind.Candle, candle.Symbol, null, null, candle);
}
