using System.Numerics;

namespace SignalStream.EventStore.File.Internal;

/// <summary>
/// The ids of the newest retained events, at most <see cref="Capacity"/> of them: the journal's de-duplication
/// window. Keeping every id (the journal did, ~30 B each) grew the heap for as long as the node ran; the callers that
/// re-send ids re-send a group moments after appending it (docs/events.md, "Event-id de-duplication").
/// </summary>
/// <remarks>
/// ~24 bytes an id once full: the ids in a ring in position order (16 B; the oldest is the first to go, since
/// positions are contiguous), and an open-addressing table of ring indexes at most half full (4 B a slot). A
/// <see cref="HashSet{T}"/> beside a queue was ~44 B. Both arrays start small and double up to the capacity, so an
/// empty journal costs a few KB.
/// </remarks>
internal sealed class RecentEventIds
{
    private const int InitialLength = 1024;

    private Guid[] _ring;

    // 0: empty; otherwise a ring index + 1. Linear probing from the id's hash; a removal shifts back the entries after
    // it, so a lookup stops at the first empty slot.
    private int[] _slots;
    private int _shift;
    private int _head;
    private int _count;
    private long _first;

    public RecentEventIds(int capacity)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        Capacity = capacity;
        (_ring, _slots, _shift) = Allocate(Math.Min(capacity, InitialLength));
    }

    /// <summary>At most this many ids are kept.</summary>
    public int Capacity { get; }

    /// <summary>Ids kept now.</summary>
    public int Count => _count;

    public bool Contains(Guid id)
    {
        var mask = _slots.Length - 1;
        for (var h = Home(id); _slots[h] != 0; h = (h + 1) & mask)
        {
            if (_ring[_slots[h] - 1] == id)
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>Adds the id of <paramref name="position"/>, the position after the last one added; forgets the oldest past the capacity.</summary>
    public void Add(long position, Guid id)
    {
        if (_count == 0)
        {
            _first = position;
            _head = 0;
        }
        else if (_count == Capacity)
        {
            RemoveOldest();
        }
        else if (_count == _ring.Length)
        {
            Grow();
        }

        var index = RingIndex(_count);
        _ring[index] = id;
        Insert(index);
        _count++;
    }

    /// <summary>Forgets the ids of positions below <paramref name="position"/> (their segment was deleted).</summary>
    public void ForgetBelow(long position)
    {
        while (_count > 0 && _first < position)
        {
            RemoveOldest();
        }
    }

    public void Clear()
    {
        (_ring, _slots, _shift) = Allocate(Math.Min(Capacity, InitialLength));
        _head = _count = 0;
    }

    private static (Guid[] Ring, int[] Slots, int Shift) Allocate(int ringLength)
    {
        // A table at least twice the ring: at most half full, so probes stay short.
        var slots = (int)BitOperations.RoundUpToPowerOf2((uint)ringLength * 2);
        return (new Guid[ringLength], new int[slots], 32 - BitOperations.Log2((uint)slots));
    }

    // Fibonacci hashing: the top bits of the product, so ids that differ only in a few bits still spread.
    private int Home(Guid id) => (int)(((uint)id.GetHashCode() * 2654435769u) >> _shift);

    private int RingIndex(int offset)
    {
        var index = _head + offset;
        return index >= _ring.Length ? index - _ring.Length : index;
    }

    private void Insert(int ringIndex)
    {
        var mask = _slots.Length - 1;
        var h = Home(_ring[ringIndex]);
        while (_slots[h] != 0)
        {
            h = (h + 1) & mask;
        }

        _slots[h] = ringIndex + 1;
    }

    private void RemoveOldest()
    {
        var mask = _slots.Length - 1;

        // Found by its ring index rather than its id: a journal may hold an id twice (re-appended past a smaller window).
        var i = Home(_ring[_head]);
        while (_slots[i] != _head + 1)
        {
            i = (i + 1) & mask;
        }

        // Backward-shift deletion: move up each later entry of the cluster whose home is not between the hole and it.
        for (var j = (i + 1) & mask; _slots[j] != 0; j = (j + 1) & mask)
        {
            var home = Home(_ring[_slots[j] - 1]);
            var stays = i <= j ? home > i && home <= j : home > i || home <= j;
            if (!stays)
            {
                _slots[i] = _slots[j];
                i = j;
            }
        }

        _slots[i] = 0;
        _ring[_head] = Guid.Empty;
        _head = RingIndex(1);
        _count--;
        _first++;
    }

    private void Grow()
    {
        var (ring, slots, shift) = Allocate((int)Math.Min((long)_ring.Length * 2, Capacity));
        for (var k = 0; k < _count; k++)
        {
            ring[k] = _ring[RingIndex(k)];
        }

        (_ring, _slots, _shift, _head) = (ring, slots, shift, 0);
        for (var k = 0; k < _count; k++)
        {
            Insert(k);
        }
    }
}
