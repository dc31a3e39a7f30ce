using SignalStream.Contracts;
using SignalStream.Engine.Signals;

namespace SignalStream.Engine.Journal;

public sealed partial class SignalJournal
{
    /// <summary>
    /// A restore into this journal alone, for a reader of the store that keeps no signal stage (a benchmark, a test, a
    /// tool): the statistics come back as the node's own restore brings them back.
    /// </summary>
    /// <remarks>
    /// Like the signal stage's restore, it keeps every restored outcome's id until <see cref="ISignalStateRestore.RestoreCompleted"/>,
    /// without a bound: the loader reads a symbol's outcomes before its signals, so far more than
    /// <c>ResolvedFirst.Capacity</c> may come first, and a signal already resolved must not be counted open.
    /// </remarks>
    public ISignalStateRestore CreateRestore() => new JournalOnlyRestore(this);

    private sealed class JournalOnlyRestore(SignalJournal journal) : ISignalStateRestore
    {
        private readonly HashSet<string> _resolved = new(StringComparer.Ordinal);

        public void RestoreSignal(Signal signal, bool isShadow)
        {
            if (!_resolved.Contains(signal.Id))
            {
                journal.Track(signal, isShadow);
            }
        }

        public void RestoreOutcome(SignalOutcome outcome)
        {
            _resolved.Add(outcome.SignalId);
            journal.Apply(outcome);
        }

        public void RestoreCompleted() => _resolved.Clear();
    }
}
