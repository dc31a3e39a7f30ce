using System.Text.Json;
using System.Text.Json.Serialization;

namespace SignalStream.EventStore.Marten.Internal;

/// <summary>
/// An event's already-serialized JSON handed to Marten as its event object: the converter writes the bytes as they are,
/// so Marten's serializer neither re-encodes nor reorders them (serialize once).
/// </summary>
[JsonConverter(typeof(RawEventBodyConverter))]
internal sealed class RawEventBody(ReadOnlyMemory<byte> json)
{
    public ReadOnlyMemory<byte> Json { get; } = json;
}

internal sealed class RawEventBodyConverter : JsonConverter<RawEventBody>
{
    public override RawEventBody Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        using var document = JsonDocument.ParseValue(ref reader);
        return new RawEventBody(JsonSerializer.SerializeToUtf8Bytes(document.RootElement));
    }

    // The writer validated and serialized these bytes; the store column is jsonb, so PostgreSQL checks them again.
    public override void Write(Utf8JsonWriter writer, RawEventBody value, JsonSerializerOptions options) =>
        writer.WriteRawValue(value.Json.Span, skipInputValidation: true);
}
