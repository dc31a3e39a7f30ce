using System.Buffers;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Microsoft.AspNetCore.SignalR;
using Microsoft.AspNetCore.SignalR.Protocol;

namespace SignalStream.Hub.FanOut.Internal;

/// <summary>
/// Builds a SignalR JSON-protocol invocation frame once per message, for every receiving connection to share.
/// </summary>
/// <remarks>
/// This is what <c>DefaultHubLifetimeManager</c> does with <see cref="SerializedHubMessage"/> for a group send, but the
/// payload is written by our source-generated context (no reflection) and the frame carries only the "json" protocol,
/// the one protocol this hub enables. Wire form (HubProtocol.md): <c>{"type":1,"target":"signal","arguments":[…]}</c>
/// followed by the record separator 0x1E.
/// </remarks>
internal static class HubFrames
{
    public const string ProtocolName = "json";
    private const byte RecordSeparator = 0x1e;

    private static readonly JsonEncodedText s_type = JsonEncodedText.Encode("type");
    private static readonly JsonEncodedText s_target = JsonEncodedText.Encode("target");
    private static readonly JsonEncodedText s_arguments = JsonEncodedText.Encode("arguments");

    [ThreadStatic]
    private static ArrayBufferWriter<byte>? t_buffer;

    public static SerializedHubMessage Invocation<T>(string target, T argument, JsonTypeInfo<T> typeInfo)
    {
        var buffer = t_buffer ??= new ArrayBufferWriter<byte>(1024);
        buffer.ResetWrittenCount();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            writer.WriteNumber(s_type, HubProtocolConstants.InvocationMessageType);
            writer.WriteString(s_target, target);
            writer.WriteStartArray(s_arguments);
            JsonSerializer.Serialize(writer, argument, typeInfo);
            writer.WriteEndArray();
            writer.WriteEndObject();
        }

        buffer.GetSpan(1)[0] = RecordSeparator;
        buffer.Advance(1);
        return new SerializedHubMessage([new SerializedMessage(ProtocolName, buffer.WrittenSpan.ToArray())]);
    }
}
