using System.Buffers;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;

namespace SignalStream.EventStore.Internal;

/// <summary>
/// Serializes events into UTF-8 without an array per event: each thread reuses one <see cref="Utf8JsonWriter"/> over
/// one <see cref="ArrayBufferWriter{T}"/>, and copies the finished JSON into a 64 KB slab it shares with the events
/// serialized after it; an event's data is a slice of that slab. The bytes are exactly those of
/// <see cref="JsonSerializer.SerializeToUtf8Bytes{TValue}(TValue, JsonTypeInfo{TValue})"/>.
/// </summary>
/// <remarks>
/// A slab is never reused, only dropped: the garbage collector frees it once every event sliced from it has been
/// committed and released, so no event can see another's bytes however long it sits in an outage buffer. At ~450 bytes
/// a candle, one slab object replaces ~140 arrays, and stays below the large-object threshold.
/// </remarks>
internal static class EventBytes
{
    private const int SlabSize = 64 * 1024;

    [ThreadStatic]
    private static ArrayBufferWriter<byte>? t_buffer;

    [ThreadStatic]
    private static Utf8JsonWriter? t_writer;

    [ThreadStatic]
    private static byte[]? t_slab;

    [ThreadStatic]
    private static int t_used;

    public static ReadOnlyMemory<byte> Serialize<T>(T value, JsonTypeInfo<T> typeInfo)
    {
        var buffer = t_buffer ??= new ArrayBufferWriter<byte>(1024);
        var writer = t_writer ??= new Utf8JsonWriter(buffer, WriterOptions(typeInfo.Options));
        buffer.ResetWrittenCount();
        writer.Reset(buffer);
        JsonSerializer.Serialize(writer, value, typeInfo);
        writer.Flush();
        return Copy(buffer.WrittenSpan);
    }

    // What SerializeToUtf8Bytes would use (every stored type comes from EventsJsonContext, so one set of options);
    // the serializer's own output needs no re-validation.
    private static JsonWriterOptions WriterOptions(JsonSerializerOptions options) => new()
    {
        Encoder = options.Encoder,
        Indented = options.WriteIndented,
        MaxDepth = options.MaxDepth,
        SkipValidation = true,
    };

    private static ReadOnlyMemory<byte> Copy(ReadOnlySpan<byte> json)
    {
        if (json.Length > SlabSize / 4)
        {
            // A rare large event (a long model list) gets its own array rather than wasting most of a slab.
            return json.ToArray();
        }

        var slab = t_slab;
        if (slab is null || SlabSize - t_used < json.Length)
        {
            slab = t_slab = new byte[SlabSize];
            t_used = 0;
        }

        var start = t_used;
        json.CopyTo(slab.AsSpan(start));
        t_used = start + json.Length;
        return new ReadOnlyMemory<byte>(slab, start, json.Length);
    }
}
