using SignalStream.Contracts;

namespace SignalStream.Engine;

/// <summary>
/// Where the engine's results go. The event writer (persistence) and the fan-out (publishing) both implement it;
/// <see cref="EngineOutputs"/> calls every registered output in registration order (persistence first).
/// </summary>
/// <remarks>
/// Calls for one stream arrive in order and never concurrently. A returned ValueTask that does not complete at once
/// is back-pressure: the engine waits, it never drops.
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
    /// once, in order per stream). Persisting a closed candle here, after its signal, is what lets a restart skip
    /// stored candles without skipping a decision.
    /// </summary>
    ValueTask OnCandleAsync(CandleUpdate update, CancellationToken cancellationToken);

    /// <summary>A published signal with its final seq.</summary>
    ValueTask OnSignalAsync(Signal signal, CancellationToken cancellationToken);

    /// <summary>A shadow model's would-be signal: journaled and scored, never published to clients.</summary>
    ValueTask OnShadowSignalAsync(Signal signal, CancellationToken cancellationToken);

    /// <summary>A resolved signal (live or shadow: see <see cref="SignalOutcome.IsShadow"/>).</summary>
    ValueTask OnOutcomeAsync(SignalOutcome outcome, CancellationToken cancellationToken);

    /// <summary>
    /// A TradingView alert the engine accepted, before the signal or vote it causes (the event writer stores it; other
    /// outputs may ignore it). Called under its symbol's gate, so it reaches the outputs in order with the symbol's signals.
    /// </summary>
    ValueTask OnAlertAsync(Events.TradingViewAlertReceived alert, CancellationToken cancellationToken) => ValueTask.CompletedTask;
}
