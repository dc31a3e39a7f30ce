using SignalStream.Contracts;

namespace SignalStream.Engine.Signals;

/// <summary>
/// Rebuilds the signal stage from stored events at start, before the first candle: open signals resolve on later
/// candles again and the journal's statistics carry on where they stopped.
/// </summary>
/// <remarks>Replay every stored signal, shadow signal and outcome once, in the order they were stored.</remarks>
public interface ISignalStateRestore
{
    /// <summary>A stored published signal (<paramref name="isShadow"/> false) or shadow would-be signal (true).</summary>
    void RestoreSignal(Signal signal, bool isShadow);

    /// <summary>A stored outcome: the signal is no longer open and its result is scored.</summary>
    void RestoreOutcome(SignalOutcome outcome);
}
