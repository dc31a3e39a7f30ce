namespace SignalStream.Engine.Signals;

/// <summary>The per-symbol signal sequence, read from the event store so seq continues after a restart.</summary>
public interface ISignalSequence
{
    /// <summary>The last seq stored for <paramref name="symbol"/>, or 0 when it has no signal yet.</summary>
    ValueTask<long> GetLastSeqAsync(string symbol, CancellationToken cancellationToken);
}
