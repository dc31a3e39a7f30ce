

namespace SignalStream.EventStore.Tests;

/// <summary>Wraps a real store to simulate an outage (appends wait on a gate or fail) and lost acknowledgements.</summary>
internal sealed class ControllableStore(IEventStore inner) : IEventStore
{
    private TaskCompletionSource _gate = Open();
    private int _failNext;
    private int _loseAcknowledgements;

    public int Attempts;

    /// <summary>Appends wait until <see cref="Resume"/>.</summary>
    public void Pause() => _gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

    public void Resume() => _gate.TrySetResult();

    /// <summary>The next <paramref name="count"/> appends throw before writing.</summary>
    public void FailNext(int count) => Volatile.Write(ref _failNext, count);

    /// <summary>The next <paramref name="count"/> appends commit, then throw (the acknowledgement is lost).</summary>
    public void LoseAcknowledgements(int count) => Volatile.Write(ref _loseAcknowledgements, count);

    public async ValueTask<AppendResult> AppendAsync(IReadOnlyList<StreamAppend> group, CancellationToken cancellationToken = default)
    {
        Interlocked.Increment(ref Attempts);
        await _gate.Task.WaitAsync(cancellationToken);
        if (Interlocked.Decrement(ref _failNext) >= 0)
        {
            throw new IOException("simulated outage");
        }

        var result = await inner.AppendAsync(group, cancellationToken);
        if (Interlocked.Decrement(ref _loseAcknowledgements) >= 0)
        {
            throw new IOException("simulated lost acknowledgement after commit");
        }

        return result;
    }

    public ValueTask InitializeAsync(CancellationToken cancellationToken = default) => inner.InitializeAsync(cancellationToken);

    public ValueTask<IReadOnlyList<StoredEvent>> ReadStreamAsync(string streamId, long fromVersion, int maxCount, CancellationToken cancellationToken = default) =>
        inner.ReadStreamAsync(streamId, fromVersion, maxCount, cancellationToken);

    public ValueTask<IReadOnlyList<StoredEvent>> ReadStreamBackwardAsync(string streamId, int maxCount, CancellationToken cancellationToken = default) =>
        inner.ReadStreamBackwardAsync(streamId, maxCount, cancellationToken);

    public ValueTask<long> GetLastPositionAsync(CancellationToken cancellationToken = default) =>
        inner.GetLastPositionAsync(cancellationToken);

    public ValueTask<long> GetStreamVersionAsync(string streamId, CancellationToken cancellationToken = default) =>
        inner.GetStreamVersionAsync(streamId, cancellationToken);

    public IGlobalEventReader OpenGlobalReader(long afterPosition, IReadOnlyCollection<string>? dataOf = null) => inner.OpenGlobalReader(afterPosition, dataOf);

    public void ReleaseUpTo(long position) => inner.ReleaseUpTo(position);

    private static TaskCompletionSource Open()
    {
        var tcs = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        tcs.SetResult();
        return tcs;
    }
}
