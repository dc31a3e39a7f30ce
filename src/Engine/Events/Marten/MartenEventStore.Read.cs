using System.Text;
using Npgsql;

namespace SignalStream.Engine.Events.Marten;

internal sealed partial class MartenEventStore
{
    public async ValueTask<IReadOnlyList<StoredEvent>> ReadStreamAsync(string streamId, long fromVersion, int maxCount, CancellationToken cancellationToken = default)
    {
        EnsureInitialized();
        if (maxCount <= 0)
        {
            return [];
        }

        await using var command = _dataSource.CreateCommand(_sql.ReadStream);
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = streamId });
        command.Parameters.Add(new NpgsqlParameter<long> { TypedValue = fromVersion });
        command.Parameters.Add(new NpgsqlParameter<int> { TypedValue = maxCount });
        return await ReadEventsAsync(command, cancellationToken).ConfigureAwait(false);
    }

    public async ValueTask<IReadOnlyList<StoredEvent>> ReadStreamBackwardAsync(string streamId, int maxCount, CancellationToken cancellationToken = default)
    {
        EnsureInitialized();
        if (maxCount <= 0)
        {
            return [];
        }

        await using var command = _dataSource.CreateCommand(_sql.ReadStreamBackward);
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = streamId });
        command.Parameters.Add(new NpgsqlParameter<int> { TypedValue = maxCount });
        return await ReadEventsAsync(command, cancellationToken).ConfigureAwait(false);
    }

    public async ValueTask<long> GetLastPositionAsync(CancellationToken cancellationToken = default)
    {
        EnsureInitialized();
        await using var command = _dataSource.CreateCommand(_sql.LastPosition);
        return (long)(await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false))!;
    }

    public async ValueTask<long> GetStreamVersionAsync(string streamId, CancellationToken cancellationToken = default)
    {
        EnsureInitialized();
        await using var command = _dataSource.CreateCommand(_sql.StreamVersion);
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = streamId });
        var result = await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false);
        return result is null or DBNull ? 0 : Convert.ToInt64(result, System.Globalization.CultureInfo.InvariantCulture);
    }

    private static async Task<List<StoredEvent>> ReadEventsAsync(NpgsqlCommand command, CancellationToken cancellationToken)
    {
        var result = new List<StoredEvent>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            result.Add(new StoredEvent(
                Convert.ToInt64(reader.GetValue(0), System.Globalization.CultureInfo.InvariantCulture),
                reader.GetString(1),
                Convert.ToInt64(reader.GetValue(2), System.Globalization.CultureInfo.InvariantCulture),
                reader.GetGuid(3),
                reader.GetString(4),
                reader.GetInt32(5),
                reader.IsDBNull(6) ? ReadOnlyMemory<byte>.Empty : Encoding.UTF8.GetBytes(reader.GetString(6)),
                reader.GetFieldValue<DateTimeOffset>(7)));
        }

        return result;
    }

    /// <summary>
    /// The same high-water mark as the Npgsql provider's reader, over <c>mt_events.seq_id</c>: a hole is passed only once
    /// every transaction in flight when it was seen has ended (never on a timeout, unlike Marten's async daemon, which
    /// skips a gap after its stale-sequence threshold).
    /// </summary>
    private sealed class GlobalReader(MartenEventStore store, long afterPosition, string[]? dataOf) : IGlobalEventReader
    {
        private long _position = afterPosition;
        private long _deadHolesUpTo;
        private long _pendingUpTo;
        private string[]? _pendingInFlight;

        public long Position => _position;

        public async ValueTask<IReadOnlyList<StoredEvent>> ReadNextAsync(int maxCount, CancellationToken cancellationToken = default)
        {
            store.EnsureInitialized();
            await using var connection = await store._dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
            if (_pendingInFlight is not null)
            {
                await using var ended = new NpgsqlCommand(Sql.AllEnded, connection);
                ended.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = _pendingInFlight });
                if ((bool)(await ended.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false))!)
                {
                    _deadHolesUpTo = Math.Max(_deadHolesUpTo, _pendingUpTo);
                    _pendingInFlight = null;
                }
            }

            string[] inFlight;
            List<StoredEvent> rows;
            await using (var transaction = await connection.BeginTransactionAsync(System.Data.IsolationLevel.RepeatableRead, cancellationToken).ConfigureAwait(false))
            {
                await using (var snapshot = new NpgsqlCommand(Sql.InFlight, connection, transaction))
                {
                    inFlight = (string[])(await snapshot.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false))!;
                }

                await using var read = new NpgsqlCommand(store._sql.ReadAll, connection, transaction);
                read.Parameters.Add(new NpgsqlParameter<long> { TypedValue = _position });
                read.Parameters.Add(new NpgsqlParameter<int> { TypedValue = maxCount });
                read.Parameters.Add(new NpgsqlParameter<string[]?> { TypedValue = dataOf, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Array | NpgsqlTypes.NpgsqlDbType.Text });
                rows = await ReadEventsAsync(read, cancellationToken).ConfigureAwait(false);
                await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
            }

            if (rows.Count > 0 && inFlight.Length == 0)
            {
                _deadHolesUpTo = Math.Max(_deadHolesUpTo, rows[^1].Position);
            }

            var accepted = 0;
            foreach (var row in rows)
            {
                if (row.Position != _position + 1 && row.Position - 1 > _deadHolesUpTo)
                {
                    break;
                }

                _position = row.Position;
                accepted++;
            }

            if (accepted < rows.Count && _pendingInFlight is null)
            {
                _pendingUpTo = rows[^1].Position;
                _pendingInFlight = inFlight;
            }

            if (accepted < rows.Count)
            {
                rows.RemoveRange(accepted, rows.Count - accepted);
            }

            return rows;
        }

        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }
}
