namespace SignalStream.Hub.Webhooks.Internal;

/// <summary>
/// One source's token bucket over <see cref="TimeProvider"/> timestamps: <c>Burst</c> alerts at once, refilled at
/// <c>AlertsPerMinute</c>. Separate from the REST API's limits: a flooding source is limited alone.
/// </summary>
internal sealed class SourceRateLimiter(TimeProvider time, double perMinute, int burst)
{
    private readonly Lock _gate = new();
    private readonly double _perSecond = perMinute / 60.0;
    private double _tokens = burst;
    private long _last = time.GetTimestamp();

    /// <summary>Takes one alert's token; when none is left, <paramref name="retryAfter"/> is when the next one is.</summary>
    public bool TryTake(out TimeSpan retryAfter)
    {
        lock (_gate)
        {
            var now = time.GetTimestamp();
            _tokens = Math.Min(burst, _tokens + (time.GetElapsedTime(_last, now).TotalSeconds * _perSecond));
            _last = now;
            if (_tokens >= 1)
            {
                _tokens -= 1;
                retryAfter = TimeSpan.Zero;
                return true;
            }

            retryAfter = TimeSpan.FromSeconds((1 - _tokens) / _perSecond);
            return false;
        }
    }
}
