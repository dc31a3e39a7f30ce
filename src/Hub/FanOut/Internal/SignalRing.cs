using SignalStream.Contracts;

namespace SignalStream.Hub.FanOut.Internal;

/// <summary>The most recent delivered signals of one symbol, contiguous in seq; resume reads it before the store.</summary>
/// <remarks>Not thread-safe: used under the symbol's delivery lock.</remarks>
internal sealed class SignalRing(int capacity)
{
    private readonly Signal[] _items = new Signal[capacity];
    private int _count;
    private int _next;

    public int Count => _count;

    /// <summary>Seq of the oldest signal held, or 0 when empty.</summary>
    public long OldestSeq => _count == 0 ? 0 : At(0).Seq;

    public void Add(Signal signal)
    {
        if (_count > 0 && signal.Seq != At(_count - 1).Seq + 1)
        {
            // Delivery is contiguous, so this only happens after an explicit skip: start over from here.
            Clear();
        }

        _items[_next] = signal;
        _next = (_next + 1) % _items.Length;
        _count = Math.Min(_count + 1, _items.Length);
    }

    public void Clear()
    {
        Array.Clear(_items);
        _count = 0;
        _next = 0;
    }

    /// <summary>True when the ring holds every signal with afterSeq &lt; seq ≤ upToSeq.</summary>
    public bool Covers(long afterSeq, long upToSeq) =>
        upToSeq <= afterSeq || (_count > 0 && OldestSeq <= afterSeq + 1 && At(_count - 1).Seq >= upToSeq);

    /// <summary>Copies the signals with afterSeq &lt; seq ≤ upToSeq; false when the ring does not reach back far enough.</summary>
    public bool TryCopyRange(long afterSeq, long upToSeq, List<Signal> into)
    {
        if (upToSeq <= afterSeq)
        {
            return true;
        }

        if (!Covers(afterSeq, upToSeq))
        {
            return false;
        }

        var start = (int)(afterSeq + 1 - OldestSeq);
        var end = (int)(upToSeq - OldestSeq);
        for (var i = start; i <= end; i++)
        {
            into.Add(At(i));
        }

        return true;
    }

    /// <summary>The held signal with <paramref name="seq"/>, if the ring still has it.</summary>
    public bool TryGet(long seq, out Signal? signal)
    {
        var index = seq - OldestSeq;
        if (_count == 0 || index < 0 || index >= _count)
        {
            signal = null;
            return false;
        }

        signal = At((int)index);
        return true;
    }

    /// <summary>The newest held signal of each timeframe (oldest first).</summary>
    public void CopyLatestPerTimeframe(List<Signal> into)
    {
        ushort seen = 0;
        var start = into.Count;
        for (var i = _count - 1; i >= 0; i--)
        {
            var signal = At(i);
            var bit = (ushort)(1 << (int)signal.Timeframe);
            if ((seen & bit) == 0)
            {
                seen |= bit;
                into.Add(signal);
            }
        }

        into.Reverse(start, into.Count - start);
    }

    private Signal At(int index) => _items[(_next - _count + index + _items.Length) % _items.Length];
}
