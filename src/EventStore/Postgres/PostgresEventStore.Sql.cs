namespace SignalStream.EventStore.Postgres;

internal sealed partial class PostgresEventStore
{
    // $3 of ReadAll (text[], null: all) names the types whose data is rendered; the others come with null data.
    private static Statements ReadStatements(string schema) => new(
        ReadStream:
            $"SELECT seq, stream_id, version, id, type, schema_version, data::text, timestamp FROM {schema}.events " +
            "WHERE stream_id = $1 AND version >= $2 ORDER BY version LIMIT $3",
        ReadStreamBackward:
            $"SELECT seq, stream_id, version, id, type, schema_version, data::text, timestamp FROM {schema}.events " +
            "WHERE stream_id = $1 ORDER BY version DESC LIMIT $2",
        LastPosition: $"SELECT coalesce(max(seq), 0) FROM {schema}.events",
        StreamVersion: $"SELECT version FROM {schema}.streams WHERE id = $1",
        ReadAll:
            "SELECT seq, stream_id, version, id, type, schema_version, " +
            "CASE WHEN $3::text[] IS NULL OR type = ANY($3::text[]) THEN data::text END, timestamp " +
            $"FROM {schema}.events WHERE seq > $1 ORDER BY seq LIMIT $2");

    /// <summary>The append statements, built once per schema.</summary>
    private sealed class Sql(string schema)
    {
        // A session temp table: No Reset On Close keeps it across pool rentals, ON COMMIT DELETE ROWS empties it.
        public const string CreateStaging =
            """
            CREATE TEMP TABLE IF NOT EXISTS signalstream_staging (
                ord integer NOT NULL, stream_id text NOT NULL, stream_type text NOT NULL, expected bigint NOT NULL,
                id uuid NOT NULL, type text NOT NULL, schema_version integer NOT NULL, data jsonb NOT NULL,
                timestamp timestamptz NOT NULL
            ) ON COMMIT DELETE ROWS
            """;

        public const string CopyStaging =
            "COPY signalstream_staging (ord, stream_id, stream_type, expected, id, type, schema_version, data, timestamp) FROM STDIN (FORMAT BINARY)";

        // One statement, one snapshot. 'fresh' drops ids already stored; 'conflicts' checks expected versions against
        // what this snapshot sees, 'late_conflicts' against what the upsert found after waiting for another writer's
        // row lock on the same stream. Any conflict: the caller rolls back.
        public string Merge { get; } =
            $"""
            WITH fresh AS (
                SELECT s.* FROM signalstream_staging s
                WHERE NOT EXISTS (SELECT 1 FROM {schema}.events e WHERE e.id = s.id)
            ),
            counts AS (
                SELECT stream_id, min(stream_type) AS stream_type, min(expected) AS expected, count(*) AS n
                FROM fresh GROUP BY stream_id
            ),
            current_versions AS (
                SELECT c.stream_id, c.stream_type, c.expected, c.n, coalesce(st.version, 0) AS version
                FROM counts c LEFT JOIN {schema}.streams st ON st.id = c.stream_id
            ),
            conflicts AS (
                SELECT stream_id, version FROM current_versions WHERE expected >= 0 AND expected <> version
            ),
            upserted AS (
                INSERT INTO {schema}.streams AS st (id, type, version, created, timestamp)
                SELECT stream_id, stream_type, n, now(), now() FROM current_versions
                WHERE NOT EXISTS (SELECT 1 FROM conflicts)
                ON CONFLICT (id) DO UPDATE SET version = st.version + excluded.version, timestamp = excluded.timestamp
                RETURNING st.id, st.version AS new_version
            ),
            late_conflicts AS (
                SELECT u.id AS stream_id, u.new_version - c.n AS version
                FROM upserted u JOIN counts c ON c.stream_id = u.id
                WHERE c.expected >= 0 AND u.new_version - c.n <> c.expected
            ),
            inserted AS (
                INSERT INTO {schema}.events (id, stream_id, version, type, schema_version, data, timestamp)
                SELECT f.id, f.stream_id,
                       u.new_version - c.n + row_number() OVER (PARTITION BY f.stream_id ORDER BY f.ord),
                       f.type, f.schema_version, f.data, f.timestamp
                FROM fresh f JOIN upserted u ON u.id = f.stream_id JOIN counts c ON c.stream_id = f.stream_id
                ORDER BY f.ord
                RETURNING 1
            ),
            any_conflict AS (
                SELECT stream_id, version FROM conflicts UNION ALL SELECT stream_id, version FROM late_conflicts LIMIT 1
            )
            SELECT (SELECT count(*) FROM inserted), (SELECT stream_id FROM any_conflict), (SELECT version FROM any_conflict)
            """;

        // Fast path, step 1: reserve versions. Sorted ids lock rows in one order, so two writers cannot deadlock here.
        public string UpsertStreams { get; } =
            $"""
            INSERT INTO {schema}.streams AS st (id, type, version, created, timestamp)
            SELECT id, type, n, now(), now() FROM unnest($1::text[], $2::text[], $3::bigint[]) AS u(id, type, n) ORDER BY id
            ON CONFLICT (id) DO UPDATE SET version = st.version + excluded.version, timestamp = excluded.timestamp
            RETURNING st.id, st.version
            """;

        // Fast path, step 2: the events themselves, with the versions step 1 reserved.
        public string CopyEvents { get; } =
            $"COPY {schema}.events (id, stream_id, version, type, schema_version, data, timestamp) FROM STDIN (FORMAT BINARY)";
    }
}
