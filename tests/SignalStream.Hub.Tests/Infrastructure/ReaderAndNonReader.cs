namespace SignalStream.Hub.Tests.Infrastructure;

/// <summary>
/// Two clients subscribed to one symbol: one that reads, and one that stopped reading, with a 4 KB kernel receive
/// buffer so that its backlog reaches the node quickly (loopback buffers are megabytes).
/// </summary>
internal sealed class ReaderAndNonReader : IAsyncDisposable
{
    private ReaderAndNonReader(HubTestClient reader, HubTestClient nonReader)
    {
        Reader = reader;
        NonReader = nonReader;
    }

    public HubTestClient Reader { get; }

    public HubTestClient NonReader { get; }

    public static async Task<ReaderAndNonReader> ConnectAsync(TestNode node, string symbol)
    {
        var reader = await node.ConnectAsync();
        await reader.InvokeAsync("Subscribe", new { symbol });
        var nonReader = await HubTestClient.ConnectAsync(node.BaseAddress, receiveBufferBytes: 4096);
        await nonReader.InvokeAsync("Subscribe", new { symbol });
        await nonReader.PauseReadingAsync();
        return new ReaderAndNonReader(reader, nonReader);
    }

    public async ValueTask DisposeAsync()
    {
        await NonReader.DisposeAsync();
        await Reader.DisposeAsync();
    }
}
