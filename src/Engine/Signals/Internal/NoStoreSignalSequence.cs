

namespace SignalStream.Engine.Signals.Internal;

/// <summary>
/// The sequence when no event store is registered: nothing survives a restart, so every symbol starts again at seq 1.
/// The event store registers its own <see cref="ISignalSequence"/> first and that one wins.
/// </summary>
internal sealed class NoStoreSignalSequence : ISignalSequence
{
    public ValueTask<long> GetLastSeqAsync(string symbol, CancellationToken cancellationToken) => ValueTask.FromResult(0L);
}
