using System.Diagnostics.CodeAnalysis;
using SignalStream.Engine.Events;

namespace SignalStream.EventStore.Internal;

/// <summary>
/// The signals, would-be signals and outcomes this node's writer is committing, by event id, for its projector. The
/// projector follows the store and needs those events as objects; reading each back and deserializing it, moments after
/// the writer serialized it from the very same object, was ~40 % of what the node allocated in a closing bell (about
/// 12 MB of 32 MB for 2,000 streams, most of it System.Text.Json's constructor-argument state and boxed values).
/// </summary>
/// <remarks>
/// The writer stages a group's events before it appends them, so one is here whenever the projector can read it; the
/// projector takes it out by id. An event it does not find (written before a restart, by another node, or dropped here)
/// is deserialized from the store as before, so this is only ever a shortcut. What is never taken (a group the store
/// skipped as already stored after a lost acknowledgement, or a projector far behind) stays until <see cref="Capacity"/>
/// events or <see cref="CapacityBytes"/> of their stored JSON are held, when everything is dropped at once: far more
/// than a burst's events, so in normal running that never happens.
/// </remarks>
internal sealed class EventHandOff
{
    /// <summary>Events held at most; a closing bell of 2,000 streams stages ~2,700.</summary>
    internal const int Capacity = 65_536;

    /// <summary>Stored JSON of the held events at most (the objects take a few times as much); a bell's is ~2 MB.</summary>
    internal const long CapacityBytes = 16L * 1024 * 1024;

    private readonly Lock _lock = new();

    // A plain dictionary under a lock rather than a concurrent one: removed entries are reused, so staging and taking
    // allocate nothing once it has grown to a burst's size.
    private readonly Dictionary<Guid, (ISignalStreamEvent Event, int Bytes)> _events = [];
    private long _bytes;

    /// <summary>Events staged and not yet taken.</summary>
    public int Count
    {
        get
        {
            lock (_lock)
            {
                return _events.Count;
            }
        }
    }

    /// <param name="bytes">The size of the event's stored JSON: what the hand-off is bounded by, beside the count.</param>
    public void Stage(Guid eventId, ISignalStreamEvent e, int bytes)
    {
        lock (_lock)
        {
            if (_events.Remove(eventId, out var restaged))
            {
                _bytes -= restaged.Bytes; // a retried group stages its events again
            }

            if (_events.Count >= Capacity || _bytes + bytes > CapacityBytes)
            {
                _events.Clear();
                _bytes = 0;
            }

            _events[eventId] = (e, bytes);
            _bytes += bytes;
        }
    }

    public bool TryTake(Guid eventId, [NotNullWhen(true)] out ISignalStreamEvent? e)
    {
        lock (_lock)
        {
            if (_events.Remove(eventId, out var staged))
            {
                _bytes -= staged.Bytes;
                e = staged.Event;
                return true;
            }

            e = null;
            return false;
        }
    }
}
