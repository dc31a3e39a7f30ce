using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;
using SignalStream.EventStore.Postgres;
using SignalStream.EventStore.Tests.Contract;

namespace SignalStream.EventStore.Tests.Postgres;

public sealed class HighWaterMarkTests : HighWaterMarkContractTests
{
    protected override async Task<IEventStore> CreateStoreAsync()
    {
        var store = new PostgresEventStore(TestStorage.DataSource, new PostgresStoreOptions { Schema = Schema }, NullLogger<PostgresEventStore>.Instance);
        await store.InitializeAsync();
        return store;
    }

    protected override async Task<HeldTransaction> HoldOpenTransactionWithOneEventAsync()
    {
        var connection = await TestStorage.DataSource.OpenConnectionAsync();
        var transaction = await connection.BeginTransactionAsync();
        var id = Guid.NewGuid();
        await using var command = new NpgsqlCommand(
            $"""
            WITH s AS (INSERT INTO {Schema}.streams (id, type, version) VALUES ('held', 'test', 1) RETURNING id)
            INSERT INTO {Schema}.events (id, stream_id, version, type, schema_version, data, timestamp)
            SELECT $1, s.id, 1, 'test_event', 1, $2::jsonb, now() FROM s
            """,
            connection,
            transaction);
        command.Parameters.Add(new NpgsqlParameter<Guid> { TypedValue = id });
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = "{\"held\":true}" });
        await command.ExecuteNonQueryAsync();
        return new HeldTransaction(connection, transaction, id);
    }
}
