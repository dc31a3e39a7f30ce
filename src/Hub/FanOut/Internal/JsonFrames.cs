using System.Buffers;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Microsoft.AspNetCore.SignalR.Protocol;

namespace SignalStream.Hub.FanOut.Internal;

/// <summary>
/// The JSON-protocol records the node writes on its own (<see cref="HubFrames"/>), the payload by our source-generated
/// context (no reflection). Wire forms (HubProtocol.md): <c>{"type":1,"target":"signal","arguments":[…]}</c> and
/// <c>{"type":7,"error":"…","allowReconnect":true}</c>, each followed by the record separator 0x1E.
/// </summary>
internal static class JsonFrames
{
    private const byte RecordSeparator = 0x1e;

    private static readonly JsonEncodedText s_type = JsonEncodedText.Encode("type");
    private static readonly JsonEncodedText s_target = JsonEncodedText.Encode("target");
    private static readonly JsonEncodedText s_arguments = JsonEncodedText.Encode("arguments");
    private static readonly JsonEncodedText s_error = JsonEncodedText.Encode("error");
    private static readonly JsonEncodedText s_allowReconnect = JsonEncodedText.Encode("allowReconnect");

    [ThreadStatic]
    private static ArrayBufferWriter<byte>? t_buffer;

    // Reset over the thread's buffer for every record: a new writer per record was ~270 bytes a candle or signal
    // (~0.6 MB a closing bell of 2,000 streams), for a writer that holds no state between records.
    [ThreadStatic]
    private static Utf8JsonWriter? t_writer;

    public static OutboundFrame Invocation<T>(string target, T argument, JsonTypeInfo<T> typeInfo)
    {
        var buffer = StartRecord(out var writer);
        writer.WriteStartObject();
        writer.WriteNumber(s_type, HubProtocolConstants.InvocationMessageType);
        writer.WriteString(s_target, target);
        writer.WriteStartArray(s_arguments);
        JsonSerializer.Serialize(writer, argument, typeInfo);
        writer.WriteEndArray();
        writer.WriteEndObject();
        return EndRecord(buffer, writer);
    }

    public static OutboundFrame Close(string reason, bool allowReconnect)
    {
        var buffer = StartRecord(out var writer);
        writer.WriteStartObject();
        writer.WriteNumber(s_type, HubProtocolConstants.CloseMessageType);
        writer.WriteString(s_error, reason);
        writer.WriteBoolean(s_allowReconnect, allowReconnect);
        writer.WriteEndObject();
        return EndRecord(buffer, writer);
    }

    private static ArrayBufferWriter<byte> StartRecord(out Utf8JsonWriter writer)
    {
        var buffer = t_buffer ??= new ArrayBufferWriter<byte>(1024);
        buffer.ResetWrittenCount();
        // A record that threw half-way left its state behind: Reset drops it along with anything unflushed.
        writer = t_writer ??= new Utf8JsonWriter(buffer);
        writer.Reset(buffer);
        return buffer;
    }

    private static OutboundFrame EndRecord(ArrayBufferWriter<byte> buffer, Utf8JsonWriter writer)
    {
        writer.Flush();
        buffer.GetSpan(1)[0] = RecordSeparator;
        buffer.Advance(1);
        return new OutboundFrame(WireProtocol.Json, default, buffer.WrittenSpan);
    }
}
