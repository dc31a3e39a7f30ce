namespace SignalStream.Engine.Features.Internal;

/// <summary>
/// Mean and population variance of the last <c>capacity</c> values, O(1) amortized per push. The values live in a
/// segment of the owner's buffer, passed to every call.
/// </summary>
/// <remarks>
/// Running sums drift: every add/subtract pair rounds, and sum-of-squares variance cancels catastrophically when the
/// values are large next to their spread (a 60,000 USD price moving by cents). So the sums are kept as deviations
/// from a shift near the mean, and every <c>capacity</c> pushes they are recomputed exactly from the ring (two-pass),
/// which resets both the drift and the shift: O(capacity) work once per <c>capacity</c> pushes.
/// A mutable struct held in a field of its owner (never copied) over a slice of the owner's one array: a closing
/// burst touches thousands of streams once each, and state packed into few objects costs far fewer cache misses.
/// </remarks>
internal struct RollingMoments
{
    private readonly int _offset;
    private readonly int _capacity;
    private int _next;
    private int _count;
    private int _sinceRecompute;
    private double _shift;
    private double _sum;
    private double _sumSquares;

    /// <param name="offset">Where the ring starts in the buffer passed to <see cref="Push"/>.</param>
    /// <param name="capacity">How many of the latest values count.</param>
    public RollingMoments(int offset, int capacity)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(offset);
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        _offset = offset;
        _capacity = capacity;
    }

    public readonly double Mean => _count == 0 ? 0 : _shift + (_sum / _count);

    /// <summary>Population variance (divides by the count), never negative.</summary>
    public readonly double Variance
    {
        get
        {
            if (_count == 0)
            {
                return 0;
            }

            var m = _sum / _count;
            var v = (_sumSquares / _count) - (m * m);
            return v > 0 ? v : 0;
        }
    }

    public void Push(double[] buffer, double value)
    {
        var values = buffer.AsSpan(_offset, _capacity);
        if (_count == _capacity)
        {
            var old = values[_next] - _shift;
            _sum -= old;
            _sumSquares -= old * old;
        }
        else
        {
            if (_count == 0)
            {
                _shift = value; // shift from the start, so the first window does not cancel either
            }

            _count++;
        }

        values[_next] = value;
        var d = value - _shift;
        _sum += d;
        _sumSquares += d * d;
        if (++_next == _capacity)
        {
            _next = 0;
        }

        if (++_sinceRecompute >= _capacity)
        {
            Recompute(values);
        }
    }

    private void Recompute(ReadOnlySpan<double> values)
    {
        _sinceRecompute = 0;
        var total = 0.0;
        for (var i = 0; i < _count; i++)
        {
            total += values[i];
        }

        _shift = total / _count;
        double sum = 0, sumSquares = 0;
        for (var i = 0; i < _count; i++)
        {
            var d = values[i] - _shift;
            sum += d;
            sumSquares += d * d;
        }

        _sum = sum;
        _sumSquares = sumSquares;
    }
}
