namespace SignalStream.Hub.Hubs.Internal;

/// <summary>A per-connection token bucket over <see cref="TimeProvider"/> timestamps; callers are serialized by SignalR.</summary>
internal sealed class TokenBucket(TimeProvider time, double ratePerSecond, int capacity)
{
    private readonly Lock _gate = new();
    private double _tokens = capacity;
    private long _last = time.GetTimestamp();

    public bool TryTake()
    {
        lock (_gate)
        {
            var now = time.GetTimestamp();
            var elapsed = time.GetElapsedTime(_last, now).TotalSeconds;
            _last = now;
            _tokens = Math.Min(capacity, _tokens + elapsed * ratePerSecond);
            if (_tokens < 1)
            {
                return false;
            }

            _tokens -= 1;
            return true;
        }
    }
}
