namespace SignalStream.Engine.Events.Marten;

internal sealed partial class MartenEventStore
{
    /// <summary>The performance projection's document, or null before the daemon has applied any journal event.</summary>
    internal async Task<PerformanceDocument?> LoadPerformanceAsync(CancellationToken cancellationToken)
    {
        await using var session = _documents.QuerySession();
        return await session.LoadAsync<PerformanceDocument>(PerformanceDocument.TheId, cancellationToken).ConfigureAwait(false);
    }
}
