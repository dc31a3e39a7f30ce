using SignalStream.Contracts;

namespace SignalStream.Engine.Signals;

/// <summary>
/// Rebuilds the signal stage from stored events at start, before the first candle: open signals resolve on later
/// candles again and the journal's statistics carry on where they stopped.
/// </summary>
/// <remarks>
/// Replay every stored signal, shadow signal and outcome once, then call <see cref="RestoreCompleted"/>. Order between
/// signals and outcomes does not matter (an outcome replayed before its signal keeps that signal closed); outcomes
/// of one group should keep their stored order, because maximum drawdown depends on it.
/// </remarks>
public interface ISignalStateRestore
{
    /// <summary>A stored published signal (<paramref name="isShadow"/> false) or shadow would-be signal (true).</summary>
    void RestoreSignal(Signal signal, bool isShadow);

    /// <summary>A stored outcome: the signal is no longer open and its result is scored.</summary>
    void RestoreOutcome(SignalOutcome outcome);

    /// <summary>Replay is done: frees what was kept to make replay order-independent and logs what is open.</summary>
    void RestoreCompleted();
}
