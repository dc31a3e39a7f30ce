using Microsoft.Extensions.Logging.Abstractions;
using SignalStream.EventStore.Marten;

namespace SignalStream.EventStore.Tests.Contract;

public sealed class MartenEventStoreContractTests : EventStoreContractTests
{
    private readonly string _schema = TestServices.NewSchema();

    protected override async Task<IEventStore> CreateStoreAsync() => await OpenAsync();

    protected override async Task<IEventStore> ReopenAsync(IEventStore store) => await OpenAsync();

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        await TestStorage.DropSchemaAsync(_schema);
    }

    [Fact]
    public async Task ConcurrentStartersCreateTheSchemaOnce()
    {
        var stores = Enumerable.Range(0, 4).Select(_ => Own(Create())).ToArray();

        await Task.WhenAll(stores.Select(s => s.InitializeAsync().AsTask())).WaitAsync(TestEvents.Wait);

        await stores[0].AppendAsync([TestEvents.Append("a", ExpectedVersions.Any, TestEvents.Event())]);
        Assert.Equal(1, await stores[3].GetStreamVersionAsync("a"));
    }

    private MartenEventStore Create() =>
        new(TestStorage.DataSource, new MartenStoreOptions { Schema = _schema }, NullLogger<MartenEventStore>.Instance);

    private async Task<IEventStore> OpenAsync()
    {
        var store = Own(Create());
        await store.InitializeAsync();
        return store;
    }
}
