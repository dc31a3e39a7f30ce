namespace SignalStream.EventStore.Internal;

/// <summary>Wakes the projector when a group commit lands, so projections do not wait a full poll interval.</summary>
internal sealed class CommitSignal
{
    private readonly SemaphoreSlim _signal = new(0, 1);

    public void Notify()
    {
        if (_signal.CurrentCount == 0)
        {
            try
            {
                _signal.Release();
            }
            catch (SemaphoreFullException)
            {
                // Another commit released it first: one wake-up is enough.
            }
        }
    }

    /// <summary>Waits for the next commit or <paramref name="timeout"/>, whichever comes first.</summary>
    public Task<bool> WaitAsync(TimeSpan timeout, CancellationToken cancellationToken) => _signal.WaitAsync(timeout, cancellationToken);
}
