using System.Runtime.InteropServices;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace SignalStream.EventStore.Marten.Internal;

/// <summary>
/// The event a Marten projection reads for the journal's event types (signals, shadow signals, outcomes): its stored
/// JSON as it is. Mapped by type name (<see cref="PerformanceProjection.Register"/>), so Marten's daemon fetches these
/// types only and never renders a candle.
/// </summary>
[JsonConverter(typeof(JournalEventBodyConverter))]
internal sealed class JournalEventBody(ReadOnlyMemory<byte> json)
{
    public ReadOnlyMemory<byte> Json { get; } = json;
}

internal sealed class JournalEventBodyConverter : JsonConverter<JournalEventBody>
{
    // The value's raw bytes, copied once: EventSerializer parses them (and upcasts older versions) as it does for the store's own reads.
    public override JournalEventBody Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        using var document = JsonDocument.ParseValue(ref reader);
        return new JournalEventBody(JsonMarshal.GetRawUtf8Value(document.RootElement).ToArray());
    }

    // Never appended as itself (the store appends RawEventBody); written only if Marten ever re-serializes a read event.
    public override void Write(Utf8JsonWriter writer, JournalEventBody value, JsonSerializerOptions options) =>
        writer.WriteRawValue(value.Json.Span, skipInputValidation: true);
}
