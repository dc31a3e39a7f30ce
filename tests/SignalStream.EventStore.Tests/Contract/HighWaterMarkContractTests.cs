using Npgsql;
using static SignalStream.EventStore.Tests.TestEvents;

namespace SignalStream.EventStore.Tests.Contract;

/// <summary>
/// A transaction that drew a position but has not committed must hold projections back — never be skipped — and a
/// rolled-back one must not hold them forever (Marten's async daemon skips a gap after a fixed timeout; our global
/// reader does not). One specification, a subclass per PostgreSQL provider.
/// </summary>
public abstract class HighWaterMarkContractTests : IAsyncLifetime
{
    protected string Schema { get; } = TestServices.NewSchema();

    protected IEventStore Store { get; private set; } = null!;

    /// <summary>A fresh, initialized store in <see cref="Schema"/>.</summary>
    protected abstract Task<IEventStore> CreateStoreAsync();

    /// <summary>Appends one event as the store does (an xid first, then a position) and leaves the transaction open.</summary>
    protected abstract Task<HeldTransaction> HoldOpenTransactionWithOneEventAsync();

    public async Task InitializeAsync() => Store = await CreateStoreAsync();

    public virtual async Task DisposeAsync()
    {
        if (Store is IAsyncDisposable disposable)
        {
            await disposable.DisposeAsync();
        }

        await TestStorage.DropSchemaAsync(Schema);
    }

    [Fact]
    public async Task ProjectionsWaitForAnOpenTransactionThenCatchUpWithoutSkipping()
    {
        var before = Events(2);
        await Store.AppendAsync([Append("a", ExpectedVersions.Any, before)]);

        await using var held = await HoldOpenTransactionWithOneEventAsync();
        var concurrent = await AppendConcurrentlyAsync(writers: 4, perWriter: 5);

        await using var reader = Store.OpenGlobalReader(0);
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
        await Store.AppendAsync([Append("a", ExpectedVersions.Any, Events(1))]);
        await using (var held = await HoldOpenTransactionWithOneEventAsync())
        {
            await AppendConcurrentlyAsync(writers: 2, perWriter: 3);
            await held.Transaction.RollbackAsync();
        }

        await using var reader = Store.OpenGlobalReader(0);
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
                await Store.AppendAsync([Append("w-" + w, ExpectedVersions.Any, e)]);
            }

            return mine;
        }));
        foreach (var mine in await Task.WhenAll(tasks).WaitAsync(Wait))
        {
            ids.AddRange(mine);
        }

        return ids;
    }

    protected sealed record HeldTransaction(NpgsqlConnection Connection, NpgsqlTransaction Transaction, Guid EventId) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync()
        {
            await Transaction.DisposeAsync();
            await Connection.DisposeAsync();
        }
    }
}
