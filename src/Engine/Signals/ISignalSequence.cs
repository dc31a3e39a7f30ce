namespace SignalStream.Engine.Signals;

/// <summary>The per-symbol signal and outcome sequences, read from the event store so both continue after a restart.</summary>
public interface ISignalSequence
{
    /// <summary>The last seq stored for <paramref name="symbol"/>, or 0 when it has no signal yet.</summary>
    ValueTask<long> GetLastSeqAsync(string symbol, CancellationToken cancellationToken);

    /// <summary>The last outcomeSeq stored for <paramref name="symbol"/>, or 0 when it has no published outcome yet.</summary>
    ValueTask<long> GetLastOutcomeSeqAsync(string symbol, CancellationToken cancellationToken);
}
