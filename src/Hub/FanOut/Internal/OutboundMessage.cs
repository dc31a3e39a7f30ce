using System.Text.Json.Serialization.Metadata;

namespace SignalStream.Hub.FanOut.Internal;

/// <summary>
/// One hub message for every connection that receives it, serialized once per protocol on first demand: the first
/// connection of each protocol pays for its frame, the others share it, and a node without MessagePack clients never
/// writes MessagePack.
/// </summary>
/// <remarks>This is what <c>DefaultHubLifetimeManager</c> does with <c>SerializedHubMessage</c> for a group send, with
/// our own writers (<see cref="JsonFrames"/>, <see cref="MessagePackFrames"/>) and frames ready for the socket.</remarks>
internal abstract class OutboundMessage
{
    private OutboundFrame? _json;
    private OutboundFrame? _messagePack;

    /// <summary>The message's frame in <paramref name="protocol"/>: a read once it exists, which is every delivery but
    /// the first of its protocol.</summary>
    public OutboundFrame FrameFor(WireProtocol protocol) =>
        (protocol == WireProtocol.MessagePack ? Volatile.Read(ref _messagePack) : Volatile.Read(ref _json)) ?? Serialize(protocol);

    protected abstract OutboundFrame Write(WireProtocol protocol);

    private OutboundFrame Serialize(WireProtocol protocol)
    {
        // A long subscriber list is offered from several threads at once (SymbolFeed.OfferAll); without the lock each
        // would serialize the same frame. The object is private to the fan-out, so nothing else locks it.
        lock (this)
        {
            ref var slot = ref protocol == WireProtocol.MessagePack ? ref _messagePack : ref _json;
            if (slot is null)
            {
                Volatile.Write(ref slot, Write(protocol));
            }

            return slot!;
        }
    }
}

/// <summary>An invocation of a client method (<c>signal</c>, <c>signalResolved</c>, <c>candle</c>) with one argument.</summary>
internal sealed class OutboundInvocation<T>(string target, T argument, JsonTypeInfo<T> json) : OutboundMessage
{
    protected override OutboundFrame Write(WireProtocol protocol) => protocol == WireProtocol.MessagePack
        ? MessagePackFrames.Invocation(target, argument)
        : JsonFrames.Invocation(target, argument, json);
}
