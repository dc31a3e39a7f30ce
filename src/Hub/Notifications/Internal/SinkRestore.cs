
using SignalStream.EventStore;

namespace SignalStream.Hub.Notifications.Internal;

/// <summary>
/// Rebuilds a sink's progress on one symbol from its records at start. The newest record gives the settled points;
/// versions past them that were settled out of order (or had attempts) are found by reading back only as far as
/// records can concern them: a record concerns no version past what had been read when it was written, so once a
/// record's read mark is at or below the newest settled point (for each source stream), nothing older matters.
/// </summary>
internal static class SinkRestore
{
    private const int PageSize = 256;

    /// <summary>What a restart resumes from.</summary>
    /// <param name="IsNew">No record yet: the caller writes the starting point first.</param>
    /// <param name="Pending">Versions with attempts made and no delivery or dead letter yet.</param>
    internal sealed record Restored(SourceProgress Signals, SourceProgress Outcomes, bool IsNew, int Pending);

    public static async Task<Restored> LoadAsync(IEventStore store, string sinkLabel, string symbol, CancellationToken cancellationToken)
    {
        var stream = NotificationRecords.Stream(sinkLabel, symbol);
        var version = await store.GetStreamVersionAsync(stream, cancellationToken).ConfigureAwait(false);
        NotificationRecord? newest = null;
        SourceProgress? signals = null, outcomes = null;
        var done = new HashSet<(bool IsOutcome, long Version)>();
        var pending = new HashSet<(bool IsOutcome, long Version)>();
        var to = version;
        var finished = version == 0;
        bool signalsDone = false, outcomesDone = false;
        while (!finished && to >= 1)
        {
            var from = Math.Max(1, to - PageSize + 1);
            var page = await store.ReadStreamAsync(stream, from, (int)(to - from + 1), cancellationToken).ConfigureAwait(false);
            if (page.Count == 0)
            {
                // Retention removed the older records: what was read is all there is.
                break;
            }

            for (var i = page.Count - 1; i >= 0; i--)
            {
                if (!NotificationRecords.TryDeserialize(page[i], out var record))
                {
                    continue;
                }

                if (newest is null)
                {
                    newest = record;
                    signals = new SourceProgress(record.SignalsSettled) { RestoredReach = record.SignalsRead };
                    outcomes = new SourceProgress(record.OutcomesSettled) { RestoredReach = record.OutcomesRead };
                }

                // Read marks only grow: every record older than this one read no further than it did.
                signalsDone |= record.SignalsRead <= newest.SignalsSettled;
                outcomesDone |= record.OutcomesRead <= newest.OutcomesSettled;
                if (signalsDone && outcomesDone)
                {
                    finished = true;
                    break;
                }

                var isOutcome = record.Event == "signalResolved";
                if (record.DeliveryId is null || (isOutcome ? outcomesDone : signalsDone))
                {
                    continue;
                }

                var progress = isOutcome ? outcomes! : signals!;
                var key = (isOutcome, record.SourceVersion);
                switch (record.Kind)
                {
                    case NotificationRecords.Delivered or NotificationRecords.DeadLettered:
                        progress.RestoreSettled(record.SourceVersion);
                        done.Add(key);
                        break;
                    case NotificationRecords.AttemptFailed when !done.Contains(key):
                        // Read newest first: the first failure seen is the latest, with the most attempts.
                        progress.RestoreAttempts(record.SourceVersion, record.Attempts, record.RetryAt ?? 0);
                        pending.Add(key);
                        break;
                }
            }

            to = from - 1;
        }

        if (newest is null)
        {
            return new Restored(new SourceProgress(0), new SourceProgress(0), IsNew: true, 0);
        }

        pending.ExceptWith(done);
        return new Restored(signals!, outcomes!, IsNew: false, pending.Count);
    }
}
