using Microsoft.Extensions.Logging.Abstractions;
using SignalStream.EventStore.Marten;
using SignalStream.EventStore.Tests.Contract;
using static SignalStream.EventStore.Tests.TestEvents;

namespace SignalStream.EventStore.Tests.Marten;

/// <summary>Our high-water mark over Marten's <c>mt_events.seq_id</c> (not Marten's daemon, which skips stale gaps).</summary>
public sealed class MartenHighWaterMarkTests : HighWaterMarkContractTests
{
    protected override async Task<IEventStore> CreateStoreAsync()
    {
        var store = new MartenEventStore(TestStorage.DataSource, new MartenStoreOptions { Schema = Schema }, NullLogger<MartenEventStore>.Instance);
        await store.InitializeAsync();
        return store;
    }

    protected override async Task<HeldTransaction> HoldOpenTransactionWithOneEventAsync()
    {
        var connection = await TestStorage.DataSource.OpenConnectionAsync();
        var transaction = await connection.BeginTransactionAsync();
        var held = Event(payload: """{"held":true}""");
        await ((MartenEventStore)Store).AppendWithinAsync(transaction, [Append("held", ExpectedVersions.Any, held)]).WaitAsync(Wait);
        return new HeldTransaction(connection, transaction, held.EventId);
    }
}
