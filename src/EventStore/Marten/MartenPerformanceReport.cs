using SignalStream.Contracts;
using SignalStream.Engine.Journal;

namespace SignalStream.EventStore.Marten;

/// <summary>
/// <c>/api/performance</c> on the Marten provider: the <see cref="PerformanceDocument"/> the projection keeps, reported
/// by the journal's own code. It shows committed signals and outcomes only, as far as the daemon has applied them, and
/// is the same on every node. The rows are rebuilt only when the document has moved (one jsonb field is read to tell).
/// </summary>
internal sealed class MartenPerformanceReport(MartenEventStore store, TimeProvider time) : IStoredPerformanceReport
{
    private volatile Rows? _rows;

    public async ValueTask<PerformanceReport> GetReportAsync(CancellationToken cancellationToken = default)
    {
        await store.InitializeAsync(cancellationToken).ConfigureAwait(false);
        var position = await store.GetPerformancePositionAsync(cancellationToken).ConfigureAwait(false);
        if (_rows is not { } rows || rows.Position != position)
        {
            var document = await store.LoadPerformanceAsync(cancellationToken).ConfigureAwait(false);
            var report = SignalJournal.FromSnapshot(document?.Journal ?? JournalSnapshot.Empty, time).GetReport();
            _rows = rows = new Rows(document?.Position ?? 0, report.Groups);
        }

        return new PerformanceReport(time.GetUtcNow().ToUnixTimeMilliseconds(), rows.Groups);
    }

    private sealed record Rows(long Position, IReadOnlyList<PerformanceGroup> Groups);
}
