namespace SignalStream.EventStore.Marten;

internal sealed partial class MartenEventStore
{
    private const string Columns =
        "seq_id::bigint, stream_id, version::bigint, id, type, coalesce((headers->>'" + SchemaVersionHeader + "')::int, 1), data::text, timestamp";

    private static Statements ReadStatements(string schema) => new(
        ReadStream: $"SELECT {Columns} FROM {schema}.mt_events WHERE stream_id = $1 AND version >= $2 ORDER BY version LIMIT $3",
        ReadStreamBackward: $"SELECT {Columns} FROM {schema}.mt_events WHERE stream_id = $1 ORDER BY version DESC LIMIT $2",
        LastPosition: $"SELECT coalesce(max(seq_id), 0) FROM {schema}.mt_events",
        StreamVersion: $"SELECT version FROM {schema}.mt_streams WHERE id = $1",
        ReadAll:
            "SELECT seq_id::bigint, stream_id, version::bigint, id, type, coalesce((headers->>'" + SchemaVersionHeader + "')::int, 1), " +
            "CASE WHEN $3::text[] IS NULL OR type = ANY($3::text[]) THEN data::text END, timestamp " +
            $"FROM {schema}.mt_events WHERE seq_id > $1 ORDER BY seq_id LIMIT $2");

    /// <summary>Statements over Marten's tables, built once per schema.</summary>
    private sealed class Sql(string schema)
    {
        // Gives the transaction its xid before Marten's append function draws any seq_id: the function reads an
        // existing stream's version without writing, so its first nextval would otherwise come before the xid and a
        // global reader could pass the hole (the high-water mark relies on xid-before-seq, as in the Npgsql provider).
        public const string TakeXid = "SELECT pg_current_xact_id()";

        public string StoredIds { get; } = $"SELECT id FROM {schema}.mt_events WHERE id = ANY($1)";

        // Sorted ids lock rows in one order, so two writers cannot deadlock here.
        public string LockStreams { get; } = $"SELECT id, version FROM {schema}.mt_streams WHERE id = ANY($1) ORDER BY id FOR UPDATE";
    }
}
