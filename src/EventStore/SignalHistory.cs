using Microsoft.Extensions.Logging;
using SignalStream.Contracts;
using SignalStream.Engine.Events;
using SignalStream.EventStore.Internal;

namespace SignalStream.EventStore;

/// <summary>
/// Stored signals, outcomes and closed candles read from each symbol's signals stream (version == seq), outcomes stream
/// (version == outcomeSeq) and candle streams (open time increasing with the version), through <see cref="IEventStore"/>,
/// so every provider serves them alike. Only committed ones: the writer publishes signals and outcomes after the commit,
/// so everything of them a client or a hub can have seen is readable here, and nothing that a crash could still take back.
/// </summary>
internal sealed partial class SignalHistory(IEventStore store, EventNamespace ns, ILogger<SignalHistory> logger) : ISignalHistory
{
    // Latest-per-timeframe looks back this far; a timeframe silent for longer has no "latest" to resume from.
    private const int LatestLookBack = 1000;

    public ValueTask<long> GetLastSeqAsync(string symbol, CancellationToken cancellationToken) =>
        store.GetStreamVersionAsync(EventStreams.Signals(symbol, ns.Prefix), cancellationToken);

    public async ValueTask<IReadOnlyList<Signal>> ReadSignalsAsync(string symbol, long afterSeq, int limit, CancellationToken cancellationToken)
    {
        if (limit <= 0 || afterSeq == long.MaxValue)
        {
            return []; // nothing follows the largest seq, and afterSeq + 1 below would overflow to the first one
        }

        var afterOrZero = Math.Max(0, afterSeq);
        var stored = await store.ReadStreamAsync(EventStreams.Signals(symbol, ns.Prefix), afterOrZero + 1, limit, cancellationToken).ConfigureAwait(false);
        var result = new List<Signal>(stored.Count);
        foreach (var e in stored)
        {
            if (TryRead(e, out var signal))
            {
                result.Add(signal);
            }
        }

        return result;
    }

    public ValueTask<long> GetLastOutcomeSeqAsync(string symbol, CancellationToken cancellationToken) =>
        store.GetStreamVersionAsync(EventStreams.Outcomes(symbol, ns.Prefix), cancellationToken);

    public async ValueTask<IReadOnlyList<SignalOutcome>> ReadOutcomesAsync(string symbol, long afterOutcomeSeq, int limit, CancellationToken cancellationToken)
    {
        if (limit <= 0 || afterOutcomeSeq == long.MaxValue)
        {
            return [];
        }

        var stored = await store.ReadStreamAsync(EventStreams.Outcomes(symbol, ns.Prefix), Math.Max(0, afterOutcomeSeq) + 1, limit, cancellationToken).ConfigureAwait(false);
        var result = new List<SignalOutcome>(stored.Count);
        foreach (var e in stored)
        {
            if (EventSerializer.TryDeserialize(e, out var @event, out var error) && @event is SignalResolved resolved)
            {
                // The stream version is the outcomeSeq; outcomes stored before the field existed carry none themselves.
                result.Add(resolved.Outcome with { OutcomeSeq = e.Version });
            }
            else
            {
                Log.UnreadableOutcome(logger, e.StreamId, e.Version, error ?? $"type '{e.Type}' in an outcomes stream");
            }
        }

        return result;
    }

    public async ValueTask<IReadOnlyList<Candle>> ReadCandlesAsync(StreamKey stream, long afterOpenTime, int limit, CancellationToken cancellationToken)
    {
        if (limit <= 0)
        {
            return [];
        }

        var streamId = EventStreams.Candles(stream, ns.Prefix);
        var bar = (long)stream.Timeframe.NominalDuration().TotalMilliseconds;
        // Open times are never negative: a lower afterOpenTime asks for them all (and cannot overflow the seek's arithmetic).
        var (first, _) = await CandleSeek.FirstAfterAsync(store, streamId, bar, Math.Max(afterOpenTime, -1), cancellationToken).ConfigureAwait(false);
        if (first == 0)
        {
            return [];
        }

        var stored = await store.ReadStreamAsync(streamId, first, limit, cancellationToken).ConfigureAwait(false);
        var result = new List<Candle>(stored.Count);
        foreach (var e in stored)
        {
            if (EventSerializer.TryDeserialize(e, out var @event, out var error) && @event is CandleClosed closed)
            {
                result.Add(closed.Candle);
            }
            else
            {
                Log.UnreadableCandle(logger, e.StreamId, e.Version, error ?? $"type '{e.Type}' in a candles stream");
            }
        }

        return result;
    }

    public async ValueTask<IReadOnlyList<Signal>> ReadLatestSignalsAsync(string symbol, CancellationToken cancellationToken)
    {
        var latest = new Dictionary<Timeframe, Signal>();
        var stored = await store.ReadStreamBackwardAsync(EventStreams.Signals(symbol, ns.Prefix), LatestLookBack, cancellationToken).ConfigureAwait(false);
        foreach (var e in stored)
        {
            // Newest first: once a timeframe has its signal, its older ones are skipped unparsed. Deserializing all of a
            // symbol's newest 1000 signals cost a subscribe 220–350 KB, which a reconnect storm multiplies.
            if (EventSerializer.TryReadSignalTimeframe(e, out var timeframe) && latest.ContainsKey(timeframe))
            {
                continue;
            }

            if (TryRead(e, out var signal))
            {
                latest.TryAdd(signal.Timeframe, signal);
            }
        }

        var result = latest.Values.ToList();
        result.Sort((a, b) => a.Timeframe.CompareTo(b.Timeframe));
        return result;
    }

    private bool TryRead(StoredEvent e, out Signal signal)
    {
        if (EventSerializer.TryDeserialize(e, out var @event, out var error) && @event is SignalIssued issued)
        {
            signal = issued.Signal;
            return true;
        }

        Log.UnreadableSignal(logger, e.StreamId, e.Version, error ?? $"type '{e.Type}' in a signals stream");
        signal = null!;
        return false;
    }

    private static partial class Log
    {
        [LoggerMessage(4300, LogLevel.Error, "Stored event {StreamId}@{Version} is not a readable signal and was left out: {Reason}")]
        public static partial void UnreadableSignal(ILogger logger, string streamId, long version, string reason);

        [LoggerMessage(4301, LogLevel.Error, "Stored event {StreamId}@{Version} is not a readable outcome and was left out: {Reason}")]
        public static partial void UnreadableOutcome(ILogger logger, string streamId, long version, string reason);

        [LoggerMessage(4302, LogLevel.Error, "Stored event {StreamId}@{Version} is not a readable closed candle and was left out: {Reason}")]
        public static partial void UnreadableCandle(ILogger logger, string streamId, long version, string reason);
    }
}
