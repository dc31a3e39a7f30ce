namespace SignalStream.Engine.Inference.Internal;

/// <summary>
/// Live models before shadow ones: counts the live models' requests queued or running across every batcher of a node,
/// and lets shadow batchers wait until there are none. A published signal waits for the live models only, so on a
/// closing bell the shadow model's batches (about half of the inference) run after the live ones instead of sharing
/// the cores with them.
/// </summary>
/// <remarks>
/// Never a deadlock and never a drop: a shadow batcher that waits still takes requests until its queue is full, and then
/// the engine waits for its space and queues no more live requests, so the live ones drain and the shadow batches run.
/// Under a load the node cannot keep up with, the shadow models fall behind first (bounded by their queues).
/// </remarks>
internal sealed class LiveFirst
{
    private readonly Lock _lock = new();
    private int _inFlight;
    private TaskCompletionSource? _idle;

    /// <summary>Live requests queued or running.</summary>
    public int InFlight => Volatile.Read(ref _inFlight);

    public void Queued() => Interlocked.Increment(ref _inFlight);

    public void Done(int requests)
    {
        if (Interlocked.Add(ref _inFlight, -requests) != 0)
        {
            return;
        }

        TaskCompletionSource? idle;
        lock (_lock)
        {
            idle = _idle;
            _idle = null;
        }

        idle?.TrySetResult();
    }

    /// <summary>Completes once no live request is queued or running (at once when none is). Check <see cref="InFlight"/> again after.</summary>
    public Task WhenIdleAsync()
    {
        lock (_lock)
        {
            if (Volatile.Read(ref _inFlight) == 0)
            {
                return Task.CompletedTask;
            }

            // One per burst, shared by every shadow batcher waiting: not an allocation per request.
            return (_idle ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).Task;
        }
    }
}
