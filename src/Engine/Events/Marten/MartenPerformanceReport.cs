using SignalStream.Contracts;
using SignalStream.Engine.Journal;

namespace SignalStream.Engine.Events.Marten;

/// <summary>
/// <c>/api/performance</c> on the Marten provider: the <see cref="PerformanceDocument"/> the projection keeps, read with
/// one query and reported by the journal's own code. It shows committed signals and outcomes only, as far as the
/// daemon has applied them, and is the same on every node.
/// </summary>
internal sealed class MartenPerformanceReport(MartenEventStore store, TimeProvider time) : IStoredPerformanceReport
{
    public async ValueTask<PerformanceReport> GetReportAsync(CancellationToken cancellationToken = default)
    {
        await store.InitializeAsync(cancellationToken).ConfigureAwait(false);
        var document = await store.LoadPerformanceAsync(cancellationToken).ConfigureAwait(false);
        return SignalJournal.FromSnapshot(document?.Journal ?? JournalSnapshot.Empty, time).GetReport();
    }
}
