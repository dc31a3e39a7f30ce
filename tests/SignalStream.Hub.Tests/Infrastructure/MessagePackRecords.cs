using System.Buffers;
using System.Text.Json;
using System.Text.Json.Nodes;
using MessagePack;
using SignalStream.Hub.FanOut.Internal;

namespace SignalStream.Hub.Tests.Infrastructure;

/// <summary>
/// SignalR's MessagePack records by hand (HubProtocol.md, "MessagePack encoding"): a VarInt length prefix, then an array
/// whose first item is the message type. Read back as the JSON protocol's objects, so a test checks a MessagePack
/// client's messages with the same assertions as a JSON client's.
/// </summary>
internal static class MessagePackRecords
{
    /// <summary>The message behind its length prefix.</summary>
    public static byte[] Prefixed(ReadOnlySpan<byte> message)
    {
        Span<byte> prefix = stackalloc byte[5];
        var length = MessagePackFrames.WriteLengthPrefix(message.Length, prefix);
        return [.. prefix[..length], .. message];
    }

    /// <summary><c>[1, {}, invocationId, target, [arguments…], []]</c>; arguments as MessagePack-CSharp writes them
    /// (an anonymous object becomes a map keyed by its property names).</summary>
    public static byte[] Invocation(string? invocationId, string target, object?[] arguments)
    {
        var buffer = new ArrayBufferWriter<byte>();
        var writer = new MessagePackWriter(buffer);
        writer.WriteArrayHeader(6);
        writer.Write(1);
        writer.WriteMapHeader(0);
        if (invocationId is null)
        {
            writer.WriteNil();
        }
        else
        {
            writer.Write(invocationId);
        }

        writer.Write(target);
        writer.WriteArrayHeader(arguments.Length);
        foreach (var argument in arguments)
        {
            if (argument is null)
            {
                writer.WriteNil();
            }
            else
            {
                MessagePackSerializer.Serialize(argument.GetType(), ref writer, argument, MessagePackFrames.SerializerOptions);
            }
        }

        writer.WriteArrayHeader(0);
        writer.Flush();
        return buffer.WrittenSpan.ToArray();
    }

    /// <summary>Takes one whole record (without its prefix) off the front of <paramref name="buffer"/>.</summary>
    public static bool TryTake(ReadOnlySpan<byte> buffer, out byte[] record, out int consumed)
    {
        record = [];
        consumed = 0;
        var length = 0L;
        for (var i = 0; i < 5; i++)
        {
            if (i >= buffer.Length)
            {
                return false;
            }

            length |= (long)(buffer[i] & 0x7f) << (7 * i);
            if ((buffer[i] & 0x80) == 0)
            {
                if (buffer.Length < i + 1 + length)
                {
                    return false;
                }

                record = buffer.Slice(i + 1, (int)length).ToArray();
                consumed = i + 1 + (int)length;
                return true;
            }
        }

        throw new InvalidDataException("a length prefix longer than 5 bytes");
    }

    public static int TypeOf(byte[] record)
    {
        var reader = new MessagePackReader(record);
        reader.ReadArrayHeader();
        return reader.ReadInt32();
    }

    public static string? CloseError(byte[] record) => ToJson(record)["error"]?.GetValue<string>();

    /// <summary>The record as the JSON protocol's object: <c>type</c>, and per type <c>invocationId</c>, <c>target</c>,
    /// <c>arguments</c>, <c>result</c>, <c>error</c>, <c>allowReconnect</c>. Payloads keep their MessagePack types
    /// (a decimal is a string).</summary>
    public static JsonObject ToJson(byte[] record)
    {
        var reader = new MessagePackReader(record);
        var count = reader.ReadArrayHeader();
        var type = reader.ReadInt32();
        var json = new JsonObject { ["type"] = type };
        switch (type)
        {
            case 1:
                reader.Skip(); // headers
                json["invocationId"] = reader.TryReadNil() ? null : reader.ReadString();
                json["target"] = reader.ReadString();
                json["arguments"] = Node(ref reader);
                break;
            case 3:
                reader.Skip();
                json["invocationId"] = reader.ReadString();
                switch (reader.ReadInt32())
                {
                    case 1:
                        json["error"] = reader.ReadString();
                        break;
                    case 3:
                        json["result"] = Node(ref reader);
                        break;
                }

                break;
            case 7:
                json["error"] = reader.TryReadNil() ? null : reader.ReadString();
                json["allowReconnect"] = count > 2 && reader.ReadBoolean();
                break;
        }

        return json;
    }

    private static JsonNode? Node(ref MessagePackReader reader) =>
        JsonNode.Parse(MessagePackSerializer.ConvertToJson(reader.ReadRaw()));
}
