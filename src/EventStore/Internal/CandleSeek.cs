using SignalStream.Engine.Events;

namespace SignalStream.EventStore.Internal;

/// <summary>
/// Finds the version of a candle stream's first closed candle opening after a time. Versions are contiguous but open
/// times have holes (exchange outages), so the version cannot be computed from the time; open times strictly increase
/// along the versions (the writer stores a stream's candle only past its <see cref="CandleWatermarks"/>), so it is
/// searched for.
/// </summary>
/// <remarks>
/// The search interpolates between the two versions known to bracket the answer, alternating with plain bisection, and
/// reads two neighbours per probe so that a probe landing on the answer proves it at once. A stream without holes is
/// then three reads (newest, oldest, the probe) whatever its length; holes cost at most twice a binary search's
/// log2(n) probes (BENCHMARKS.md, "Candle pages").
/// </remarks>
internal static class CandleSeek
{
    /// <summary>
    /// The first version whose candle opens after <paramref name="afterOpenTime"/>, or 0 when there is none; with the
    /// number of store reads it took.
    /// </summary>
    public static async ValueTask<(long Version, int Reads)> FirstAfterAsync(
        IEventStore store, string streamId, long afterOpenTime, CancellationToken cancellationToken)
    {
        var newest = await store.ReadStreamBackwardAsync(streamId, 1, cancellationToken).ConfigureAwait(false);
        if (newest.Count == 0)
        {
            return (0, 1);
        }

        // The common ask is "what closed since I left": a caught-up reader costs this one read.
        long b = newest[0].Version, ob = OpenTime(newest[0]);
        if (ob <= afterOpenTime)
        {
            return (0, 1);
        }

        var oldest = await store.ReadStreamAsync(streamId, 1, 1, cancellationToken).ConfigureAwait(false);
        long a = 1, oa = OpenTime(oldest[0]);
        var reads = 2;
        if (oa > afterOpenTime)
        {
            return (1, reads);
        }

        // Invariant: openTime(a) <= afterOpenTime < openTime(b); the answer is b once they are neighbours.
        var interpolate = true;
        while (b - a > 1)
        {
            var probe = interpolate
                ? a + 1 + (long)((Int128)(afterOpenTime - oa) * (b - a) / (ob - oa)) // exact: a stream without holes lands on the answer
                : a + ((b - a) / 2);
            probe = Math.Clamp(probe, a + 1, b - 1);
            interpolate = !interpolate;

            // The probe and the one before it: when they straddle the time, the answer is proven in this read.
            var pair = await store.ReadStreamAsync(streamId, probe - 1, 2, cancellationToken).ConfigureAwait(false);
            reads++;
            if (pair.Count != 2 || pair[0].Version != probe - 1)
            {
                throw new InvalidOperationException($"candle stream {streamId} has no contiguous versions {probe - 1}-{probe}; its versions must be 1..{b}.");
            }

            long before = OpenTime(pair[0]), at = OpenTime(pair[1]);
            if (at <= afterOpenTime)
            {
                (a, oa) = (probe, at);
            }
            else if (before > afterOpenTime)
            {
                (b, ob) = (probe - 1, before);
            }
            else
            {
                return (probe, reads);
            }
        }

        return (b, reads);
    }

    private static long OpenTime(StoredEvent e) =>
        EventSerializer.TryDeserialize(e, out var @event, out var error) && @event is CandleClosed closed
            ? closed.Candle.OpenTime
            : throw new InvalidOperationException(
                $"stored event {e.StreamId}@{e.Version} is not a readable closed candle ({error ?? $"type '{e.Type}'"}); the candle page cannot be searched past it.");
}
