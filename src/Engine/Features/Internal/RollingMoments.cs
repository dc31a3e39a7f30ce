namespace SignalStream.Engine.Features.Internal;

/// <summary>Mean and population variance of the last <c>capacity</c> values, O(1) amortized per push.</summary>
/// <remarks>
/// Running sums drift: every add/subtract pair rounds, and sum-of-squares variance cancels catastrophically when the
/// values are large next to their spread (a 60,000 USD price moving by cents). So the sums are kept as deviations
/// from a shift near the mean, and every <c>capacity</c> pushes they are recomputed exactly from the ring (two-pass),
/// which resets both the drift and the shift: O(capacity) work once per <c>capacity</c> pushes.
/// </remarks>
internal sealed class RollingMoments
{
    private readonly double[] _values;
    private int _next;
    private int _count;
    private int _sinceRecompute;
    private double _shift;
    private double _sum;
    private double _sumSquares;

    public RollingMoments(int capacity)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        _values = new double[capacity];
    }

    public int Count => _count;

    public bool IsFull => _count == _values.Length;

    public double Mean => _count == 0 ? 0 : _shift + (_sum / _count);

    /// <summary>Population variance (divides by the count), never negative.</summary>
    public double Variance
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

    public void Push(double value)
    {
        if (_count == _values.Length)
        {
            var old = _values[_next] - _shift;
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

        _values[_next] = value;
        var d = value - _shift;
        _sum += d;
        _sumSquares += d * d;
        if (++_next == _values.Length)
        {
            _next = 0;
        }

        if (++_sinceRecompute >= _values.Length)
        {
            Recompute();
        }
    }

    private void Recompute()
    {
        _sinceRecompute = 0;
        var total = 0.0;
        for (var i = 0; i < _count; i++)
        {
            total += _values[i];
        }

        _shift = total / _count;
        double sum = 0, sumSquares = 0;
        for (var i = 0; i < _count; i++)
        {
            var d = _values[i] - _shift;
            sum += d;
            sumSquares += d * d;
        }

        _sum = sum;
        _sumSquares = sumSquares;
    }
}
