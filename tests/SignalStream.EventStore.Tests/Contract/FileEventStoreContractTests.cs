using Microsoft.Extensions.Logging.Abstractions;
using SignalStream.EventStore.File;

namespace SignalStream.EventStore.Tests.Contract;

public sealed class FileEventStoreContractTests : EventStoreContractTests
{
    private readonly string _folder = TestStorage.NewTempFolder();

    protected override async Task<IEventStore> CreateStoreAsync() => await OpenAsync();

    protected override async Task<IEventStore> ReopenAsync(IEventStore store)
    {
        await ((FileEventStore)store).DisposeAsync();
        return await OpenAsync();
    }

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        Directory.Delete(_folder, recursive: true);
    }

    private async Task<IEventStore> OpenAsync()
    {
#pragma warning disable CA2000 // Own registers it for the suite's DisposeAsync
        var store = Own(new FileEventStore(new FileJournalOptions { Path = _folder }, TimeProvider.System, NullLogger<FileEventStore>.Instance));
#pragma warning restore CA2000
        await store.InitializeAsync();
        return store;
    }
}
