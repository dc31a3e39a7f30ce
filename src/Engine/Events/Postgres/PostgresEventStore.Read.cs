using System.Text;
using Npgsql;

namespace SignalStream.Engine.Events.Postgres;

internal sealed partial class PostgresEventStore
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
        return result is long version ? version : 0;
    }

    private static async Task<List<StoredEvent>> ReadEventsAsync(NpgsqlCommand command, CancellationToken cancellationToken)
    {
        var result = new List<StoredEvent>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            result.Add(new StoredEvent(
                reader.GetInt64(0),
                reader.GetString(1),
                reader.GetInt64(2),
                reader.GetGuid(3),
                reader.GetString(4),
                reader.GetInt32(5),
                reader.IsDBNull(6) ? ReadOnlyMemory<byte>.Empty : Encoding.UTF8.GetBytes(reader.GetString(6)),
                reader.GetFieldValue<DateTimeOffset>(7)));
        }

        return result;
    }

    /// <summary>
    /// The high-water mark. <c>seq</c> values are drawn before commit, so a reader can see 7 committed while 6 is still
    /// in flight (or rolled back, leaving a permanent hole). When the reader meets a hole it records the snapshot's list
    /// of in-flight transactions and the highest seq it saw; every transaction that could still fill a hole at or below
    /// that seq is on the list (it drew its seq, after taking its xid in the staging COPY, before the higher seq was
    /// drawn). Only once all of them have ended does the reader move past a hole that is still empty. No timeout ever
    /// skips: a transaction held open stalls projections (visibly, in the lag metric) instead of losing its events.
    /// </summary>
    private sealed class GlobalReader(PostgresEventStore store, long afterPosition, string[]? dataOf) : IGlobalEventReader
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
                // Nothing was in flight at this snapshot: every hole below its rows is permanent.
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
