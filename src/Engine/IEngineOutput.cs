using SignalStream.Contracts;

namespace SignalStream.Engine;

/// <summary>
/// A publisher of the engine's results (the fan-out to clients and Redis; any other sink). <see cref="EngineOutputs"/>
/// calls its publishers in the order the composition root gave them; signals and outcomes arrive only after the durable
/// output (<see cref="IDurableEngineOutput"/>, the event writer) has had their commit acknowledged.
/// </summary>
/// <remarks>
/// Calls for one stream arrive in order and never concurrently; a symbol's signals arrive in seq order. A returned
/// ValueTask that does not complete at once is back-pressure: the engine (or, for signals and outcomes, the writer's
/// commit lane of that symbol) waits, it never drops.
/// </remarks>
public interface IEngineOutput
{
    /// <summary>
    /// Every candle update as the engine takes it from ingest, before features and inference, in order per stream:
    /// for live display, which should not wait for the models (a closed candle is on screen while its predictions
    /// run). The same update comes again through <see cref="OnCandleAsync"/> once its decisions are made.
    /// </summary>
    ValueTask OnCandleArrivedAsync(CandleUpdate update, CancellationToken cancellationToken) => ValueTask.CompletedTask;

    /// <summary>
    /// Every candle update after the signal stage has decided on it: in-progress (best effort) and closed (exactly
    /// once, in order per stream), after the durable output has queued it (persisting a closed candle after its signal
    /// is what lets a restart skip stored candles without skipping a decision).
    /// </summary>
    ValueTask OnCandleAsync(CandleUpdate update, CancellationToken cancellationToken);

    /// <summary>A signal with its final seq, already committed to the store.</summary>
    ValueTask OnSignalAsync(Signal signal, CancellationToken cancellationToken);

    /// <summary>A shadow model's would-be signal: journaled and scored, never published to clients.</summary>
    ValueTask OnShadowSignalAsync(Signal signal, CancellationToken cancellationToken);

    /// <summary>A resolved signal (live or shadow: see <see cref="SignalOutcome.IsShadow"/>), already committed to the store.</summary>
    ValueTask OnOutcomeAsync(SignalOutcome outcome, CancellationToken cancellationToken);

    /// <summary>
    /// A TradingView alert the engine accepted, already committed to the store, ahead of the signal it caused (the same
    /// commit lane: in order with the symbol's signals). Publishers that have no use for it ignore it.
    /// </summary>
    ValueTask OnAlertAsync(Events.TradingViewAlertReceived alert, CancellationToken cancellationToken) => ValueTask.CompletedTask;
}
