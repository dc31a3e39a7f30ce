using SignalStream.Engine.Events;

namespace SignalStream.EventStore.Internal;

/// <summary>
/// Finds the version of a candle stream's first closed candle opening after a time. Versions are contiguous but open
/// times have holes (exchange outages), so the version cannot be computed from the time; open times strictly increase
/// along the versions (the writer stores a stream's candle only past its <see cref="CandleWatermarks"/>), so it is
/// searched for.
/// </summary>
/// <remarks>
/// Readers mostly ask for what closed since they left: near the newest candle. So the search reads the newest, then
/// probes where the answer is if nothing is missing between it and the newest (one bar a version), reading that version
/// and the one before so that a right guess is proven at once: two reads and a pair when the client was away through
/// no outage, whatever the stream's length. A wrong guess still narrows the range to the client's absence, which is
/// then bisected. Every probe is read, never assumed, so a stream whose bars are further apart than a timeframe, or
/// closer (test data), costs reads, never a wrong answer. Figures: BENCHMARKS.md, "Candle pages".
/// </remarks>
internal static class CandleSeek
{
    /// <summary>
    /// The first version whose candle opens after <paramref name="afterOpenTime"/>, or 0 when there is none; with the
    /// number of store reads it took.
    /// </summary>
    /// <param name="barMilliseconds">The timeframe's length: the open times' step where nothing is missing.</param>
    public static async ValueTask<(long Version, int Reads)> FirstAfterAsync(
        IEventStore store, string streamId, long barMilliseconds, long afterOpenTime, CancellationToken cancellationToken)
    {
        var newest = await store.ReadStreamBackwardAsync(streamId, 1, cancellationToken).ConfigureAwait(false);
        if (newest.Count == 0 || OpenTime(newest[0]) <= afterOpenTime)
        {
            return (0, 1); // the common ask of a caught-up reader costs this one read
        }

        // Invariant: the answer is in (low, high]; version low opens at or before afterOpenTime (0: before the first).
        long low = 0, high = newest[0].Version;
        var bars = ((OpenTime(newest[0]) - afterOpenTime - 1) / barMilliseconds) + 1; // ceil, without overflow
        var guess = Math.Max(1, high - bars + 1);
        var pair = await store.ReadStreamAsync(streamId, Math.Max(1, guess - 1), guess == 1 ? 1 : 2, cancellationToken).ConfigureAwait(false);
        var reads = 2;
        var at = OpenTime(Expect(pair, guess, streamId)[^1]);
        if (at <= afterOpenTime)
        {
            low = guess; // an outage after the guess: the answer is later, still within the reader's absence
        }
        else if (guess == 1 || OpenTime(pair[0]) <= afterOpenTime)
        {
            return (guess, reads);
        }
        else
        {
            high = guess - 1; // bars closer than a timeframe (only test data has them): the answer is earlier
        }

        while (high - low > 1)
        {
            var middle = low + ((high - low) / 2);
            var probe = await store.ReadStreamAsync(streamId, middle, 1, cancellationToken).ConfigureAwait(false);
            reads++;
            if (OpenTime(Expect(probe, middle, streamId)[0]) <= afterOpenTime)
            {
                low = middle;
            }
            else
            {
                high = middle;
            }
        }

        return (high, reads);
    }

    private static IReadOnlyList<StoredEvent> Expect(IReadOnlyList<StoredEvent> read, long lastVersion, string streamId) =>
        read.Count > 0 && read[^1].Version == lastVersion
            ? read
            : throw new InvalidOperationException($"candle stream {streamId} has no version {lastVersion}; a stream's versions are contiguous from 1.");

    private static long OpenTime(StoredEvent e) =>
        EventSerializer.TryDeserialize(e, out var @event, out var error) && @event is CandleClosed closed
            ? closed.Candle.OpenTime
            : throw new InvalidOperationException(
                $"stored event {e.StreamId}@{e.Version} is not a readable closed candle ({error ?? $"type '{e.Type}'"}); the candle page cannot be searched past it.");
}
