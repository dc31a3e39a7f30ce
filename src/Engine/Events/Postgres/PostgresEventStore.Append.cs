using System.Text;
using Npgsql;
using NpgsqlTypes;

namespace SignalStream.Engine.Events.Postgres;

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
                    await importer.WriteAsync(Encoding.UTF8.GetString(e.Data.Span), NpgsqlDbType.Jsonb, cancellationToken).ConfigureAwait(false);
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
