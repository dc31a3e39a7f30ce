using SignalStream.Contracts;
using SignalStream.Engine.Signals;

namespace SignalStream.EventStore;

/// <summary>Stored signals, for resume, REST and hole repair.</summary>
public interface ISignalHistory : ISignalSequence
{
    /// <summary>Signals of <paramref name="symbol"/> with seq &gt; <paramref name="afterSeq"/>, oldest first, at most <paramref name="limit"/>.</summary>
    ValueTask<IReadOnlyList<Signal>> ReadSignalsAsync(string symbol, long afterSeq, int limit, CancellationToken cancellationToken);

    /// <summary>The newest stored signal of each timeframe of <paramref name="symbol"/>.</summary>
    ValueTask<IReadOnlyList<Signal>> ReadLatestSignalsAsync(string symbol, CancellationToken cancellationToken);
}
