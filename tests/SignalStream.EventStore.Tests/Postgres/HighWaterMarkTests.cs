using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;
using SignalStream.Engine.Events;
using SignalStream.Engine.Events.Postgres;
using static SignalStream.EventStore.Tests.TestEvents;

namespace SignalStream.EventStore.Tests.Postgres;

/// <summary>
/// A transaction that drew a seq but has not committed must hold projections back — never be skipped — and a
/// rolled-back one must not hold them forever (Marten users lost events to a fixed gap timeout).
/// </summary>
public sealed class HighWaterMarkTests : IAsyncLifetime
{
    private readonly string _schema = TestServices.NewSchema();
    private PostgresEventStore _store = null!;

    public async Task InitializeAsync()
    {
        _store = new PostgresEventStore(TestServices.DataSource, new PostgresStoreOptions { Schema = _schema }, NullLogger<PostgresEventStore>.Instance);
        await _store.InitializeAsync();
    }

    public Task DisposeAsync() => TestServices.DropSchemaAsync(_schema);

    [Fact]
    public async Task ProjectionsWaitForAnOpenTransactionThenCatchUpWithoutSkipping()
    {
        var before = Events(2);
        await _store.AppendAsync([Append("a", ExpectedVersions.Any, before)]);

        await using var held = await HoldOpenTransactionWithOneEventAsync();
        var concurrent = await AppendConcurrentlyAsync(writers: 4, perWriter: 5);

        await using var reader = _store.OpenGlobalReader(0);
        var seen = new List<StoredEvent>(await reader.ReadNextAsync(1000).AsTask().WaitAsync(Wait));
        Assert.Equal(before.Select(e => e.EventId), seen.Select(e => e.EventId));

        // Later events are committed and visible, but the open transaction's seq lies below them: the reader waits.
        for (var i = 0; i < 5; i++)
        {
            Assert.Empty(await reader.ReadNextAsync(1000).AsTask().WaitAsync(Wait));
        }

        Assert.Equal(seen[^1].Position, reader.Position);

        await held.Transaction.CommitAsync();
        while (seen.Count < 2 + 1 + concurrent.Count)
        {
            seen.AddRange(await reader.ReadNextAsync(1000).AsTask().WaitAsync(Wait));
        }

        Assert.Equal(held.EventId, seen[2].EventId);
        Assert.Equal(concurrent.Order(), seen.Skip(3).Select(e => e.EventId).Order());
        Assert.True(seen.Zip(seen.Skip(1)).All(p => p.First.Position < p.Second.Position));
    }

    [Fact]
    public async Task AHoleLeftByARolledBackTransactionIsPassedOnceNoTransactionCanFillIt()
    {
        await _store.AppendAsync([Append("a", ExpectedVersions.Any, Events(1))]);
        await using (var held = await HoldOpenTransactionWithOneEventAsync())
        {
            await AppendConcurrentlyAsync(writers: 2, perWriter: 3);
            await held.Transaction.RollbackAsync();
        }

        await using var reader = _store.OpenGlobalReader(0);
        var seen = new List<StoredEvent>();
        while (seen.Count < 1 + 6)
        {
            seen.AddRange(await reader.ReadNextAsync(1000).AsTask().WaitAsync(Wait));
        }

        Assert.Equal(7, seen.Select(e => e.EventId).Distinct().Count());
        Assert.Contains(seen.Zip(seen.Skip(1)), p => p.Second.Position - p.First.Position > 1);
    }

    private async Task<List<Guid>> AppendConcurrentlyAsync(int writers, int perWriter)
    {
        var ids = new List<Guid>();
        var tasks = Enumerable.Range(0, writers).Select(w => Task.Run(async () =>
        {
            var mine = new List<Guid>();
            for (var i = 0; i < perWriter; i++)
            {
                var e = Event();
                mine.Add(e.EventId);
                await _store.AppendAsync([Append("w-" + w, ExpectedVersions.Any, e)]);
            }

            return mine;
        }));
        foreach (var mine in await Task.WhenAll(tasks).WaitAsync(Wait))
        {
            ids.AddRange(mine);
        }

        return ids;
    }

    /// <summary>Inserts one event the way the store does (an xid first, then a seq) and leaves the transaction open.</summary>
    private async Task<HeldTransaction> HoldOpenTransactionWithOneEventAsync()
    {
        var connection = await TestServices.DataSource.OpenConnectionAsync();
        var transaction = await connection.BeginTransactionAsync();
        var id = Guid.NewGuid();
        await using var command = new NpgsqlCommand(
            $"""
            WITH s AS (INSERT INTO {_schema}.streams (id, type, version) VALUES ('held', 'test', 1) RETURNING id)
            INSERT INTO {_schema}.events (id, stream_id, version, type, schema_version, data, timestamp)
            SELECT $1, s.id, 1, 'test_event', 1, $2::jsonb, now() FROM s
            """,
            connection,
            transaction);
        command.Parameters.Add(new NpgsqlParameter<Guid> { TypedValue = id });
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = "{\"held\":true}" });
        await command.ExecuteNonQueryAsync();
        return new HeldTransaction(connection, transaction, id);
    }

    private sealed record HeldTransaction(NpgsqlConnection Connection, NpgsqlTransaction Transaction, Guid EventId) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync()
        {
            await Transaction.DisposeAsync();
            await Connection.DisposeAsync();
        }
    }
}
