using SignalStream.Contracts;
using SignalStream.Engine.Signals;

namespace SignalStream.EventStore;

/// <summary>Stored signals, outcomes and closed candles, for resume, REST and hole repair.</summary>
public interface ISignalHistory : ISignalSequence
{
    /// <summary>Signals of <paramref name="symbol"/> with seq &gt; <paramref name="afterSeq"/>, oldest first, at most <paramref name="limit"/>.</summary>
    ValueTask<IReadOnlyList<Signal>> ReadSignalsAsync(string symbol, long afterSeq, int limit, CancellationToken cancellationToken);

    /// <summary>The newest stored signal of each timeframe of <paramref name="symbol"/>.</summary>
    ValueTask<IReadOnlyList<Signal>> ReadLatestSignalsAsync(string symbol, CancellationToken cancellationToken);

    /// <summary>
    /// Published outcomes of <paramref name="symbol"/> with outcomeSeq &gt; <paramref name="afterOutcomeSeq"/>, oldest
    /// first, from at most <paramref name="limit"/> stored events. Each carries its <see cref="SignalOutcome.OutcomeSeq"/>
    /// (its stream version). A shadow outcome stored in the stream before shadow outcomes had their own comes back too,
    /// with <see cref="SignalOutcome.IsShadow"/> set: a reader skips it, and its position tells how far the read went.
    /// </summary>
    ValueTask<IReadOnlyList<SignalOutcome>> ReadOutcomesAsync(string symbol, long afterOutcomeSeq, int limit, CancellationToken cancellationToken);

    /// <summary>
    /// Stored closed candles of <paramref name="stream"/> with openTime &gt; <paramref name="afterOpenTime"/>, oldest
    /// first, at most <paramref name="limit"/>.
    /// </summary>
    ValueTask<IReadOnlyList<Candle>> ReadCandlesAsync(StreamKey stream, long afterOpenTime, int limit, CancellationToken cancellationToken);
}
