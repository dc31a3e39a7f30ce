using System.Diagnostics.CodeAnalysis;

namespace SignalStream.Ingest.Binance.Internal;

/// <summary>
/// Allows at most <c>limit</c> acquisitions in any window of <c>window</c> length: it remembers the times of the last
/// <c>limit</c> acquisitions and waits until the oldest has left the window.
/// </summary>
/// <remarks>
/// A classic token bucket (capacity N, refill N/s) admits up to 2N messages in one second (a full bucket plus the
/// refill), which is exactly what gets a Binance connection cut; the sliding window makes "never more than N in any
/// second" hold by construction. A small margin covers the server measuring arrival, not send, times.
/// </remarks>
[SuppressMessage("Design", "CA1001:Types that own disposable fields should be disposable", Justification = "Its SemaphoreSlim is only awaited (no AvailableWaitHandle), so it holds nothing to release; a replaced limiter may still be awaited by a subscription update.")]
internal sealed class SlidingWindowLimiter
{
    private readonly long[] _recent;
    private readonly long _windowTicks;
    private readonly TimeProvider _time;
    private readonly SemaphoreSlim _gate = new(1, 1);
    private int _next;

    public SlidingWindowLimiter(int limit, TimeSpan window, TimeProvider time, TimeSpan margin = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(limit, 1);
        _recent = new long[limit];
        Array.Fill(_recent, long.MinValue);
        _time = time;
        _windowTicks = (long)((window + margin).TotalSeconds * time.TimestampFrequency);
    }

    /// <summary>Waits for a slot and takes it. Callers are served one at a time, in arrival order.</summary>
    public async ValueTask AcquireAsync(CancellationToken cancellationToken = default)
    {
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            while (true)
            {
                var now = _time.GetTimestamp();
                var oldest = _recent[_next];
                if (oldest == long.MinValue || now - oldest >= _windowTicks)
                {
                    _recent[_next] = now;
                    _next = (_next + 1) % _recent.Length;
                    return;
                }

                var waitTicks = _windowTicks - (now - oldest);
                await Task.Delay(TimeSpan.FromSeconds((double)waitTicks / _time.TimestampFrequency), _time, cancellationToken)
                    .ConfigureAwait(false);
            }
        }
        finally
        {
            _gate.Release();
        }
    }
}
