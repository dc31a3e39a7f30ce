using Npgsql;

namespace SignalStream.EventStore.Postgres;

internal sealed partial class PostgresEventStore
{
    // Migrations run in order, once each, recorded in schema_migrations. Append new ones; never edit an applied one.
    private static readonly string[] s_migrations =
    [
        """
        CREATE TABLE IF NOT EXISTS {0}.streams (
            id        text        PRIMARY KEY,
            type      text        NOT NULL,
            version   bigint      NOT NULL,
            created   timestamptz NOT NULL DEFAULT now(),
            timestamp timestamptz NOT NULL DEFAULT now()
        );
        CREATE TABLE IF NOT EXISTS {0}.events (
            seq            bigserial   PRIMARY KEY,
            id             uuid        NOT NULL,
            stream_id      text        NOT NULL,
            version        bigint      NOT NULL,
            type           text        NOT NULL,
            schema_version integer     NOT NULL,
            data           jsonb       NOT NULL,
            timestamp      timestamptz NOT NULL,
            CONSTRAINT events_id_unique UNIQUE (id),
            CONSTRAINT events_stream_version_unique UNIQUE (stream_id, version)
        );
        """,
    ];

    public async ValueTask InitializeAsync(CancellationToken cancellationToken = default)
    {
        if (IsInitialized)
        {
            return;
        }

        await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);

        // Concurrent starters (several nodes, or tests) serialize here; the lock ends with the transaction.
        await using (var lockCommand = new NpgsqlCommand("SELECT pg_advisory_xact_lock(hashtext($1))", connection, transaction))
        {
            lockCommand.Parameters.Add(new NpgsqlParameter { Value = "signalstream.schema." + _schema });
            await lockCommand.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }

        await using (var setup = new NpgsqlCommand(
            $"""
            CREATE SCHEMA IF NOT EXISTS {_schema};
            CREATE TABLE IF NOT EXISTS {_schema}.schema_migrations (version integer PRIMARY KEY, applied timestamptz NOT NULL DEFAULT now());
            """,
            connection,
            transaction))
        {
            await setup.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }

        int applied;
        await using (var current = new NpgsqlCommand($"SELECT coalesce(max(version), 0) FROM {_schema}.schema_migrations", connection, transaction))
        {
            applied = (int)(await current.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false))!;
        }

        for (var version = applied + 1; version <= s_migrations.Length; version++)
        {
            await using var migrate = new NpgsqlCommand(
                string.Format(System.Globalization.CultureInfo.InvariantCulture, s_migrations[version - 1], _schema) +
                $";INSERT INTO {_schema}.schema_migrations (version) VALUES ({version})",
                connection,
                transaction);
            await migrate.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            Log.MigrationApplied(_logger, _schema, version);
        }

        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
        MarkInitialized();
    }
}
