using SignalStream.Contracts;

namespace SignalStream.Engine.Journal;

/// <summary>
/// The performance statistics as the event store keeps them durably (a projection of committed outcomes), where the
/// store offers one (<c>Storage:Provider=marten</c>): <c>/api/performance</c> serves it in place of the engine's
/// in-memory journal, on every node, hub-only nodes included.
/// </summary>
public interface IStoredPerformanceReport
{
    ValueTask<PerformanceReport> GetReportAsync(CancellationToken cancellationToken = default);
}
