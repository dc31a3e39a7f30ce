namespace SignalStream.EventStore.File.Internal;

/// <summary>
/// A stream's retained positions, increasing, in 4 bytes each: the low 32 bits, and the high part once per 2^32
/// positions (a <c>List&lt;long&gt;</c> was 8).
/// </summary>
internal sealed class PositionList
{
    private readonly List<uint> _low = [];

    // (first index, high 32 bits) of each run of positions sharing their high part, in order: one entry for the first
    // four billion positions of the journal.
    private readonly List<(int Index, long High)> _highs = [];

    public int Count => _low.Count;

    public long this[int index]
    {
        get
        {
            var h = _highs.Count - 1;
            while (_highs[h].Index > index)
            {
                h--;
            }

            return (_highs[h].High << 32) | _low[index];
        }
    }

    /// <summary>Appends <paramref name="position"/>, greater than every position already held.</summary>
    public void Add(long position)
    {
        var high = position >> 32;
        if (_highs.Count == 0 || _highs[^1].High != high)
        {
            _highs.Add((_low.Count, high));
        }

        _low.Add((uint)position);
    }

    /// <summary>Drops the positions below <paramref name="position"/>.</summary>
    public void RemoveBelow(long position)
    {
        var drop = 0;
        while (drop < _low.Count && this[drop] < position)
        {
            drop++;
        }

        if (drop == 0)
        {
            return;
        }

        _low.RemoveRange(0, drop);
        for (var h = _highs.Count - 1; h >= 0; h--)
        {
            _highs[h] = (_highs[h].Index - drop, _highs[h].High);
        }

        // The run the new first position belongs to starts at index 0; runs wholly dropped go.
        while (_highs.Count > 1 && _highs[1].Index <= 0)
        {
            _highs.RemoveAt(0);
        }

        if (_highs.Count > 0)
        {
            _highs[0] = (0, _highs[0].High);
        }

        if (_low.Count == 0)
        {
            _highs.Clear();
        }
    }
}
