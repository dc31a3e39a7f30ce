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
/// skipped as already stored after a lost acknowledgement) stays until <see cref="Capacity"/> is reached, when
/// everything is dropped at once: far more than a burst's events, so in normal running that never happens.
/// </remarks>
internal sealed class EventHandOff
{
    /// <summary>Events held at most; a closing bell of 2,000 streams stages ~2,700.</summary>
    internal const int Capacity = 65_536;

    private readonly Lock _lock = new();

    // A plain dictionary under a lock rather than a concurrent one: removed entries are reused, so staging and taking
    // allocate nothing once it has grown to a burst's size.
    private readonly Dictionary<Guid, ISignalStreamEvent> _events = [];

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

    /// <summary>Whether the projector reads events of this kind as objects (the others it only counts).</summary>
    public static bool Carries(ISignalStreamEvent e) => e is SignalIssued or ShadowSignalIssued or SignalResolved;

    public void Stage(Guid eventId, ISignalStreamEvent e)
    {
        lock (_lock)
        {
            if (_events.Count >= Capacity)
            {
                _events.Clear();
            }

            _events[eventId] = e;
        }
    }

    public bool TryTake(Guid eventId, [NotNullWhen(true)] out ISignalStreamEvent? e)
    {
        lock (_lock)
        {
            return _events.Remove(eventId, out e);
        }
    }
}
