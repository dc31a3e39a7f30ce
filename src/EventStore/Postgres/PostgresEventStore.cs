using Microsoft.Extensions.Logging;
using Npgsql;

namespace SignalStream.EventStore.Postgres;

/// <summary>
/// The PostgreSQL event store in Marten's shape: an <c>events</c> table (global <c>seq</c>, <c>stream_id</c>,
/// <c>version</c>, <c>type</c>, <c>data</c> jsonb, <c>timestamp</c>, unique event <c>id</c>) and a <c>streams</c> table
/// (<c>id</c>, <c>version</c>, <c>type</c>, <c>created</c>, <c>timestamp</c>), unique (stream_id, version).
/// </summary>
/// <remarks>
/// A group commit is one transaction. Fast path: one multi-row upsert of the streams rows (row locks serialize writers
/// of one stream; RETURNING gives the versions to assign), then binary COPY straight into <c>events</c>. When an
/// expected version does not match or the COPY hits a unique violation (an id already stored: a re-append after a
/// lost acknowledgement), it rolls back and the checked path runs: COPY into a session temp table, then one
/// INSERT … SELECT that skips stored ids, numbers versions and reports a real conflict, on which it rolls back.
/// </remarks>
internal sealed partial class PostgresEventStore : SqlEventStore, IEventStore, IAsyncDisposable
{
    private readonly NpgsqlDataSource _dataSource;
    private readonly string _schema;
    private readonly ILogger _logger;
    private readonly Sql _sql;
    private readonly bool _ownsDataSource;

    /// <param name="ownsDataSource">True when this store disposes <paramref name="dataSource"/> (the DI registration); tests share one.</param>
    public PostgresEventStore(NpgsqlDataSource dataSource, PostgresStoreOptions options, ILogger<PostgresEventStore> logger, bool ownsDataSource = false)
        : base(dataSource, "PostgreSQL", ReadStatements(ValidSchema(options.Schema, "Storage:Postgres:Schema", nameof(options))))
    {
        _dataSource = dataSource;
        _schema = options.Schema;
        _logger = logger;
        _sql = new Sql(_schema);
        _ownsDataSource = ownsDataSource;
    }

    public ValueTask DisposeAsync() => _ownsDataSource ? _dataSource.DisposeAsync() : ValueTask.CompletedTask;

    /// <summary>The schema holding this store's tables.</summary>
    public string Schema => _schema;

    public void ReleaseUpTo(long position)
    {
        // PostgreSQL keeps every event: retention there is a DBA's partitioning decision, not the writer's.
        _ = position;
    }
}
