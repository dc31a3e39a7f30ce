using SignalStream.Contracts;

namespace SignalStream.Engine;

/// <summary>
/// Where the engine's results are made durable: the event writer. <see cref="EngineOutputs"/> hands every result to it
/// first, and hands a signal or an outcome to the publishing outputs (<see cref="IEngineOutput"/>) only once this output
/// says the store has acknowledged its commit: a seq a client has seen is durable.
/// </summary>
/// <remarks>
/// Accepting returns as soon as the result is queued for a group commit (a ValueTask that does not complete at once is
/// back-pressure: the store is slow or down and the buffer is full); the engine never waits for the commit itself, so
/// one symbol's signal does not hold up the other symbols' candles. <paramref name="committed"/> is called, and
/// awaited, once per accepted signal or outcome after its commit, in acceptance order per symbol; never for a result
/// whose commit did not happen (the process stopped or crashed first).
/// </remarks>
public interface IDurableEngineOutput
{
    /// <summary>
    /// A candle update after the signal stage decided on it; only closed candles are stored. Queued after the signals
    /// decided on it, so a restart that skips stored candles never skips a decision.
    /// </summary>
    ValueTask OnCandleAsync(CandleUpdate update, CancellationToken cancellationToken);

    /// <summary>Queues a signal for its commit; <paramref name="committed"/> gets it once the store acknowledged it.</summary>
    ValueTask OnSignalAsync(Signal signal, IEngineOutput committed, CancellationToken cancellationToken);

    /// <summary>Queues a shadow signal for its commit (never published).</summary>
    ValueTask OnShadowSignalAsync(Signal signal, CancellationToken cancellationToken);

    /// <summary>Queues an outcome for its commit; <paramref name="committed"/> gets it once the store acknowledged it.</summary>
    ValueTask OnOutcomeAsync(SignalOutcome outcome, IEngineOutput committed, CancellationToken cancellationToken);

    /// <summary>
    /// Queues a TradingView alert for its commit, in its symbol's order ahead of the signal it causes;
    /// <paramref name="committed"/> gets it once the store acknowledged it. An output that stores no alerts passes it on at once.
    /// </summary>
    ValueTask OnAlertAsync(Events.TradingViewAlertReceived alert, IEngineOutput committed, CancellationToken cancellationToken) =>
        committed.OnAlertAsync(alert, cancellationToken);
}
