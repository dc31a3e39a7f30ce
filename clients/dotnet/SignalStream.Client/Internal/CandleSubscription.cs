namespace SignalStream.Client.Internal;

/// <summary>A live candle subscription; dispose it to unsubscribe.</summary>
internal sealed class CandleSubscription(SignalStreamClient client, CandleChannel channel, CandleHandlers handlers) : IAsyncDisposable
{
    private int _disposed;

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0 && channel.Remove(handlers))
        {
            await client.ReleaseAsync(channel).ConfigureAwait(false);
        }
    }
}
