using System.Buffers;
using MessagePack;
using Microsoft.AspNetCore.SignalR;
using Microsoft.AspNetCore.SignalR.Protocol;
using Microsoft.Extensions.Options;

namespace SignalStream.Hub.FanOut.Internal;

/// <summary>
/// The MessagePack-protocol records the node writes on its own (<see cref="HubFrames"/>), and the protocol instance the
/// node serves MessagePack clients with, so both write payloads with the same serializer options.
/// </summary>
/// <remarks>
/// Wire forms (HubProtocol.md, "MessagePack encoding"): a VarInt length prefix, then the array
/// <c>[1, {}, nil, target, [argument], []]</c> for an invocation (headers, no invocation id, no stream ids), and
/// <c>[7, error, allowReconnect]</c> for the close message. The payload's map keys and enum strings come from the
/// contracts' <c>[DataMember]</c> and <c>[EnumMember]</c> names (the JSON names); decimals are strings, as
/// MessagePack-CSharp writes them (exact, and what a .NET client reads back into a decimal).
/// </remarks>
internal static class MessagePackFrames
{
    /// <summary>Longest VarInt length prefix: 5 bytes carry a message of up to 2 GB.</summary>
    private const int MaxPrefixLength = 5;

    /// <summary>SignalR's defaults for the protocol: MessagePack-CSharp's contractless resolver behind enums as strings, and
    /// <see cref="MessagePackSecurity.UntrustedData"/> for what clients send (depth and hash-collision limits).</summary>
    public static MessagePackSerializerOptions SerializerOptions { get; } = new MessagePackHubProtocolOptions().SerializerOptions;

    public static MessagePackHubProtocol Protocol { get; } =
        new(Options.Create(new MessagePackHubProtocolOptions { SerializerOptions = SerializerOptions }));

    [ThreadStatic]
    private static ArrayBufferWriter<byte>? t_buffer;

    public static OutboundFrame Invocation<T>(string target, T argument)
    {
        var buffer = Start();
        var writer = new MessagePackWriter(buffer);
        writer.WriteArrayHeader(6);
        writer.Write(HubProtocolConstants.InvocationMessageType);
        writer.WriteMapHeader(0); // headers
        writer.WriteNil(); // no invocation id: the client does not answer an event
        writer.Write(target);
        writer.WriteArrayHeader(1);
        MessagePackSerializer.Serialize(ref writer, argument, SerializerOptions);
        writer.WriteArrayHeader(0); // stream ids
        writer.Flush();
        return End(buffer);
    }

    public static OutboundFrame Close(string reason, bool allowReconnect)
    {
        var buffer = Start();
        var writer = new MessagePackWriter(buffer);
        writer.WriteArrayHeader(3);
        writer.Write(HubProtocolConstants.CloseMessageType);
        writer.Write(reason);
        writer.Write(allowReconnect);
        writer.Flush();
        return End(buffer);
    }

    private static ArrayBufferWriter<byte> Start()
    {
        var buffer = t_buffer ??= new ArrayBufferWriter<byte>(1024);
        buffer.ResetWrittenCount();
        return buffer;
    }

    private static OutboundFrame End(ArrayBufferWriter<byte> buffer)
    {
        Span<byte> prefix = stackalloc byte[MaxPrefixLength];
        var length = WriteLengthPrefix(buffer.WrittenCount, prefix);
        return new OutboundFrame(WireProtocol.MessagePack, prefix[..length], buffer.WrittenSpan);
    }

    /// <summary>The message's length, 7 bits a byte, low bits first, the high bit set on every byte but the last.</summary>
    internal static int WriteLengthPrefix(int length, Span<byte> destination)
    {
        var written = 0;
        var left = (uint)length;
        do
        {
            var next = (byte)(left & 0x7f);
            left >>= 7;
            destination[written++] = left > 0 ? (byte)(next | 0x80) : next;
        }
        while (left > 0);

        return written;
    }
}
