using Npgsql;

namespace SignalStream.EventStore.Postgres;

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

    private static Task<List<StoredEvent>> ReadEventsAsync(NpgsqlCommand command, CancellationToken cancellationToken) =>
        HighWaterMarkReader.ReadEventsAsync(command, cancellationToken);
}
