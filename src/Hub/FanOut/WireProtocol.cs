using Microsoft.AspNetCore.SignalR.Protocol;
using SignalStream.Hub.FanOut.Internal;

namespace SignalStream.Hub.FanOut;

/// <summary>A SignalR hub protocol this node speaks (<c>Hub:Protocols</c>); a connection's is fixed by its handshake.</summary>
internal enum WireProtocol : byte
{
    /// <summary>SignalR's JSON protocol: text records ending in 0x1E, in WebSocket text frames.</summary>
    Json,

    /// <summary>SignalR's MessagePack protocol: length-prefixed binary records, in WebSocket binary frames.</summary>
    MessagePack,
}

internal static class WireProtocols
{
    /// <summary>The names a client asks for in its handshake (<c>{"protocol":"…","version":…}</c>).</summary>
    public const string JsonName = "json";

    public const string MessagePackName = "messagepack";

    /// <summary>
    /// SignalR's MessagePack protocol with its default options: the instance the node registers, whose serializer options
    /// fan-out's own MessagePack frames use too.
    /// </summary>
    public static MessagePackHubProtocol MessagePackProtocol => MessagePackFrames.Protocol;

    /// <summary>Every protocol, in the order <c>Hub:Protocols</c> lists them by default.</summary>
    public static IReadOnlyList<string> Names { get; } = [JsonName, MessagePackName];

    public static string NameOf(WireProtocol protocol) => protocol == WireProtocol.MessagePack ? MessagePackName : JsonName;

    public static bool TryParse(string name, out WireProtocol protocol)
    {
        switch (name)
        {
            case JsonName:
                protocol = WireProtocol.Json;
                return true;
            case MessagePackName:
                protocol = WireProtocol.MessagePack;
                return true;
            default:
                protocol = default;
                return false;
        }
    }

    /// <summary>The protocol a connection's handshake chose; JSON before a handshake (a connection without one gets no
    /// frames of ours).</summary>
    public static WireProtocol Of(IHubProtocol? protocol) =>
        protocol?.Name == MessagePackName ? WireProtocol.MessagePack : WireProtocol.Json;
}
