using System.Text;
using Npgsql;

namespace SignalStream.EventStore.Postgres;

/// <summary>
/// The global reader of both PostgreSQL providers (ours and Marten's tables): events in position order, never past a
/// hole that an open transaction could still fill.
/// </summary>
/// <remarks>
/// Positions are drawn before commit, so a reader can see 7 committed while 6 is still in flight (or rolled back,
/// leaving a permanent hole). When the reader meets a hole it records the snapshot's list of in-flight transactions and
/// the highest position it saw; every transaction that could still fill a hole at or below it is on the list (each
/// provider takes its xid before it draws a position). Only once all of them have ended does the reader move past a
/// hole that is still empty. No timeout ever skips: a transaction held open stalls projections (visibly, in the lag
/// metric) instead of losing its events — unlike Marten's async daemon, which skips a gap after a stale threshold.
/// </remarks>
/// <param name="readAllSql">Rows after <c>$1</c> in position order, at most <c>$2</c>, data only for the types in
/// <c>$3</c> (null: all), in <see cref="ReadEventsAsync"/>'s column order.</param>
internal sealed class HighWaterMarkReader(
    NpgsqlDataSource dataSource, Action ensureInitialized, string readAllSql, long afterPosition, string[]? dataOf) : IGlobalEventReader
{
    // Read with the rows in one REPEATABLE READ transaction, so the in-flight list and the rows share one snapshot.
    private const string InFlight = "SELECT array(SELECT x::text FROM pg_snapshot_xip(pg_current_snapshot()) AS x)";

    // True once every transaction that was in flight at an earlier snapshot has committed or rolled back.
    private const string AllEnded =
        "SELECT coalesce(bool_and(pg_visible_in_snapshot(x::xid8, pg_current_snapshot())), true) FROM unnest($1::text[]) AS x";

    private long _position = afterPosition;
    private long _deadHolesUpTo;
    private long _pendingUpTo;
    private string[]? _pendingInFlight;

    public long Position => _position;

    /// <summary>
    /// Reads stored events whose columns are: position, stream id, version (all bigint), event id, type, schema version,
    /// data as text (null: not asked for), timestamp.
    /// </summary>
    public static async Task<List<StoredEvent>> ReadEventsAsync(NpgsqlCommand command, CancellationToken cancellationToken)
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

    public async ValueTask<IReadOnlyList<StoredEvent>> ReadNextAsync(int maxCount, CancellationToken cancellationToken = default)
    {
        ensureInitialized();
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        if (_pendingInFlight is not null)
        {
            await using var ended = new NpgsqlCommand(AllEnded, connection);
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
            await using (var snapshot = new NpgsqlCommand(InFlight, connection, transaction))
            {
                inFlight = (string[])(await snapshot.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false))!;
            }

            await using var read = new NpgsqlCommand(readAllSql, connection, transaction);
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

        if (accepted < rows.Count)
        {
            if (_pendingInFlight is null)
            {
                _pendingUpTo = rows[^1].Position;
                _pendingInFlight = inFlight;
            }

            rows.RemoveRange(accepted, rows.Count - accepted);
        }

        return rows;
    }

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}
