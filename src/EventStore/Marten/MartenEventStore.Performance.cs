namespace SignalStream.EventStore.Marten;

internal sealed partial class MartenEventStore
{
    /// <summary>The performance projection's document, or null before the daemon has applied any journal event.</summary>
    internal async Task<PerformanceDocument?> LoadPerformanceAsync(CancellationToken cancellationToken)
    {
        await using var session = _documents.QuerySession();
        return await session.LoadAsync<PerformanceDocument>(PerformanceDocument.TheId, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The performance document's position alone (0 before it exists): tells whether it moved without reading it.</summary>
    internal async Task<long> GetPerformancePositionAsync(CancellationToken cancellationToken)
    {
        await using var session = _documents.QuerySession();
        return await PerformanceProjection.StoredPositionAsync(session, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The position of the newest stored signal, shadow signal or outcome (0: none): where a caught-up projection's document stands.</summary>
    internal async Task<long> GetLastJournalPositionAsync(CancellationToken cancellationToken)
    {
        await using var command = _dataSource.CreateCommand(
            $"SELECT coalesce(max(seq_id), 0) FROM {_schema}.mt_events WHERE type = ANY($1)");
        command.Parameters.Add(new Npgsql.NpgsqlParameter<string[]> { TypedValue = PerformanceProjection.EventTypes });
        return (long)(await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false))!;
    }
}
