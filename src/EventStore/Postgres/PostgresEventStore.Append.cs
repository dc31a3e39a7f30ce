using Microsoft.Extensions.Logging;
using Npgsql;
using NpgsqlTypes;

namespace SignalStream.EventStore.Postgres;

internal sealed partial class PostgresEventStore
{
    public async ValueTask<AppendResult> AppendAsync(IReadOnlyList<StreamAppend> group, CancellationToken cancellationToken = default)
    {
        EnsureInitialized();
        var total = 0;
        foreach (var append in group)
        {
            total += append.Events.Count;
        }

        if (total == 0)
        {
            return new AppendResult(AppendStatus.Committed, 0);
        }

        await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        var fast = await TryAppendDirectAsync(connection, group, total, cancellationToken).ConfigureAwait(false);
        if (fast is { } committed)
        {
            return committed;
        }

        // A re-append of stored ids, an expected-version mismatch, or a stream written outside its streams row: the
        // checked path drops stored ids and reports a real conflict precisely.
        return await AppendCheckedAsync(connection, group, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// The fast path, one transaction: a multi-row upsert of the streams rows (locks them, so writers of one stream
    /// serialize, and returns each stream's new version), then binary COPY straight into <c>events</c> with the versions
    /// that upsert reserved. Null (rolled back) when the group needs the checked path: an expected version that does not
    /// match, or a unique violation (an event id already stored: an idempotent re-append).
    /// </summary>
    private async ValueTask<AppendResult?> TryAppendDirectAsync(NpgsqlConnection connection, IReadOnlyList<StreamAppend> group, int total, CancellationToken cancellationToken)
    {
        if (MergeStreams(group) is not { } streams)
        {
            return null;
        }

        await using var transaction = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);

        // The upsert also gives the transaction its xid before COPY draws any seq (the high-water mark relies on it).
        var nextVersion = new Dictionary<string, long>(streams.Count, StringComparer.Ordinal);
        await using (var upsert = new NpgsqlCommand(_sql.UpsertStreams, connection, transaction))
        {
            var ids = new string[streams.Count];
            var types = new string[streams.Count];
            var counts = new long[streams.Count];
            for (var i = 0; i < streams.Count; i++)
            {
                (ids[i], types[i], counts[i], _) = streams[i];
            }

            upsert.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = ids, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text });
            upsert.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = types, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text });
            upsert.Parameters.Add(new NpgsqlParameter<long[]> { TypedValue = counts, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Bigint });
            await using var reader = await upsert.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                nextVersion[reader.GetString(0)] = reader.GetInt64(1);
            }
        }

        foreach (var (id, _, count, expected) in streams)
        {
            var before = nextVersion[id] - count;
            if (expected >= 0 && before != expected)
            {
                await transaction.RollbackAsync(cancellationToken).ConfigureAwait(false);
                return null;
            }

            // From here on: the next version to assign in this stream.
            nextVersion[id] = before + 1;
        }

        try
        {
            await using var importer = await connection.BeginBinaryImportAsync(_sql.CopyEvents, cancellationToken).ConfigureAwait(false);
            foreach (var append in group)
            {
                var version = nextVersion[append.StreamId];
                foreach (var e in append.Events)
                {
                    await importer.StartRowAsync(cancellationToken).ConfigureAwait(false);
                    await importer.WriteAsync(e.EventId, NpgsqlDbType.Uuid, cancellationToken).ConfigureAwait(false);
                    await importer.WriteAsync(append.StreamId, NpgsqlDbType.Text, cancellationToken).ConfigureAwait(false);
                    await importer.WriteAsync(version++, NpgsqlDbType.Bigint, cancellationToken).ConfigureAwait(false);
                    await importer.WriteAsync(e.Type, NpgsqlDbType.Text, cancellationToken).ConfigureAwait(false);
                    await importer.WriteAsync(e.SchemaVersion, NpgsqlDbType.Integer, cancellationToken).ConfigureAwait(false);

                    // The serialized UTF-8 bytes as they are: Npgsql sends jsonb's binary format (version byte + text).
                    await importer.WriteAsync(e.Data, NpgsqlDbType.Jsonb, cancellationToken).ConfigureAwait(false);
                    await importer.WriteAsync(e.CreatedAt.UtcDateTime, NpgsqlDbType.TimestampTz, cancellationToken).ConfigureAwait(false);
                }

                nextVersion[append.StreamId] = version;
            }

            await importer.CompleteAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (PostgresException ex) when (ex.SqlState == PostgresErrorCodes.UniqueViolation)
        {
            // Usually an id stored by an earlier attempt whose acknowledgement was lost; the checked path skips it.
            Log.DirectAppendFellBack(_logger, ex.ConstraintName ?? "?", total);
            await transaction.RollbackAsync(cancellationToken).ConfigureAwait(false);
            return null;
        }

        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
        return new AppendResult(AppendStatus.Committed, total);
    }

    /// <summary>
    /// One entry per stream (a group may name a stream twice): id, type, event count, expected version; null when a
    /// repeated stream carries an expected version (only the checked path can evaluate that before writing).
    /// </summary>
    private static List<(string Id, string Type, long Count, long Expected)>? MergeStreams(IReadOnlyList<StreamAppend> group)
    {
        var streams = new List<(string Id, string Type, long Count, long Expected)>(group.Count);
        var index = new Dictionary<string, int>(group.Count, StringComparer.Ordinal);
        foreach (var append in group)
        {
            if (index.TryGetValue(append.StreamId, out var at))
            {
                if (append.ExpectedVersion >= 0 || streams[at].Expected >= 0)
                {
                    return null;
                }

                streams[at] = streams[at] with { Count = streams[at].Count + append.Events.Count };
                continue;
            }

            index.Add(append.StreamId, streams.Count);
            streams.Add((append.StreamId, append.StreamType, append.Events.Count, append.ExpectedVersion));
        }

        return streams;
    }

    /// <summary>
    /// The checked path: binary COPY into a session temp table, then one INSERT … SELECT that skips event ids already
    /// stored, bumps the streams rows, numbers the versions and reports any expected-version conflict.
    /// </summary>
    private async ValueTask<AppendResult> AppendCheckedAsync(NpgsqlConnection connection, IReadOnlyList<StreamAppend> group, CancellationToken cancellationToken)
    {
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        await using (var create = new NpgsqlCommand(Sql.CreateStaging, connection, transaction))
        {
            await create.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }

        await using (var importer = await connection.BeginBinaryImportAsync(Sql.CopyStaging, cancellationToken).ConfigureAwait(false))
        {
            var ord = 0;
            foreach (var append in group)
            {
                foreach (var e in append.Events)
                {
                    await importer.StartRowAsync(cancellationToken).ConfigureAwait(false);
                    await importer.WriteAsync(ord++, NpgsqlDbType.Integer, cancellationToken).ConfigureAwait(false);
                    await importer.WriteAsync(append.StreamId, NpgsqlDbType.Text, cancellationToken).ConfigureAwait(false);
                    await importer.WriteAsync(append.StreamType, NpgsqlDbType.Text, cancellationToken).ConfigureAwait(false);
                    await importer.WriteAsync(append.ExpectedVersion, NpgsqlDbType.Bigint, cancellationToken).ConfigureAwait(false);
                    await importer.WriteAsync(e.EventId, NpgsqlDbType.Uuid, cancellationToken).ConfigureAwait(false);
                    await importer.WriteAsync(e.Type, NpgsqlDbType.Text, cancellationToken).ConfigureAwait(false);
                    await importer.WriteAsync(e.SchemaVersion, NpgsqlDbType.Integer, cancellationToken).ConfigureAwait(false);
                    await importer.WriteAsync(e.Data, NpgsqlDbType.Jsonb, cancellationToken).ConfigureAwait(false);
                    await importer.WriteAsync(e.CreatedAt.UtcDateTime, NpgsqlDbType.TimestampTz, cancellationToken).ConfigureAwait(false);
                }
            }

            await importer.CompleteAsync(cancellationToken).ConfigureAwait(false);
        }

        long inserted;
        string? conflictStream;
        long conflictVersion;
        await using (var merge = new NpgsqlCommand(_sql.Merge, connection, transaction))
        await using (var reader = await merge.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false))
        {
            await reader.ReadAsync(cancellationToken).ConfigureAwait(false);
            inserted = reader.GetInt64(0);
            conflictStream = reader.IsDBNull(1) ? null : reader.GetString(1);
            conflictVersion = reader.IsDBNull(2) ? 0 : reader.GetInt64(2);
        }

        if (conflictStream is not null)
        {
            await transaction.RollbackAsync(cancellationToken).ConfigureAwait(false);
            return new AppendResult(AppendStatus.WrongExpectedVersion, 0, conflictStream, conflictVersion);
        }

        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
        return new AppendResult(AppendStatus.Committed, (int)inserted);
    }
}
