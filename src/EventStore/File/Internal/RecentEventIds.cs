namespace SignalStream.EventStore.File.Internal;

/// <summary>
/// The ids of the newest retained events, at most <see cref="Capacity"/> of them: the journal's de-duplication
/// window. Keeping every id (the journal did, ~30 B each) grew the heap for as long as the node ran; the callers that
/// re-send ids re-send a group moments after appending it (docs/events.md, "Event-id de-duplication").
/// </summary>
/// <remarks>Positions are contiguous, so the ids are kept in position order and the oldest is the first to go.</remarks>
internal sealed class RecentEventIds(int capacity)
{
    private readonly HashSet<Guid> _ids = [];
    private readonly Queue<Guid> _order = new();
    private long _first;

    /// <summary>At most this many ids are kept.</summary>
    public int Capacity { get; } = capacity;

    /// <summary>Ids kept now.</summary>
    public int Count => _order.Count;

    public bool Contains(Guid id) => _ids.Contains(id);

    /// <summary>Adds the id of <paramref name="position"/>, the position after the last one added; forgets the oldest past the capacity.</summary>
    public void Add(long position, Guid id)
    {
        if (_order.Count == 0)
        {
            _first = position;
        }
        else if (_order.Count == Capacity)
        {
            _ids.Remove(_order.Dequeue());
            _first++;
        }

        _order.Enqueue(id);
        _ids.Add(id);
    }

    /// <summary>Forgets the ids of positions below <paramref name="position"/> (their segment was deleted).</summary>
    public void ForgetBelow(long position)
    {
        while (_order.Count > 0 && _first < position)
        {
            _ids.Remove(_order.Dequeue());
            _first++;
        }
    }

    public void Clear()
    {
        _ids.Clear();
        _order.Clear();
    }
}
