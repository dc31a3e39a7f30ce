using SignalStream.Contracts;

namespace SignalStream.Engine.Events;

/// <summary>The per-symbol signal sequence, read from the event store so seq continues after a restart.</summary>
public interface ISignalSequence
{
    /// <summary>The last seq stored for <paramref name="symbol"/>, or 0 when it has no signal yet.</summary>
    ValueTask<long> GetLastSeqAsync(string symbol, CancellationToken cancellationToken);
}

/// <summary>Stored signals, for resume, REST and hole repair.</summary>
public interface ISignalHistory : ISignalSequence
{
    /// <summary>Signals of <paramref name="symbol"/> with seq &gt; <paramref name="afterSeq"/>, oldest first, at most <paramref name="limit"/>.</summary>
    ValueTask<IReadOnlyList<Signal>> ReadSignalsAsync(string symbol, long afterSeq, int limit, CancellationToken cancellationToken);

    /// <summary>The newest stored signal of each timeframe of <paramref name="symbol"/>.</summary>
    ValueTask<IReadOnlyList<Signal>> ReadLatestSignalsAsync(string symbol, CancellationToken cancellationToken);
}
