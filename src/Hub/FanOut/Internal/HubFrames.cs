using System.Text.Json.Serialization.Metadata;

namespace SignalStream.Hub.FanOut.Internal;

/// <summary>
/// The SignalR messages the node sends on its own: invocations of client methods, serialized once per message and
/// protocol for every receiving connection to share, and the close message that says why a connection ends.
/// </summary>
internal static class HubFrames
{
    /// <summary>An invocation of <paramref name="target"/>; each protocol's frame is written when a connection of that
    /// protocol first needs it.</summary>
    public static OutboundMessage Invocation<T>(string target, T argument, JsonTypeInfo<T> json) =>
        new OutboundInvocation<T>(target, argument, json);

    /// <summary>The close message: the client ends the connection and reports <paramref name="reason"/>.</summary>
    public static OutboundFrame Close(string reason, bool allowReconnect, WireProtocol protocol) => protocol == WireProtocol.MessagePack
        ? MessagePackFrames.Close(reason, allowReconnect)
        : JsonFrames.Close(reason, allowReconnect);
}
