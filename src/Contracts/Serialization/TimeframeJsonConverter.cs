using System.Text.Json;
using System.Text.Json.Serialization;

namespace SignalStream.Contracts.Serialization;

/// <summary>Writes a <see cref="Timeframe"/> as its Binance name (<c>"15m"</c>) and reads it strictly.</summary>
public sealed class TimeframeJsonConverter : JsonConverter<Timeframe>
{
    public override Timeframe Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        if (reader.TokenType != JsonTokenType.String)
        {
            throw new JsonException($"A timeframe must be a string such as \"1m\" or \"1h\", not {reader.TokenType}.");
        }

        if (!reader.HasValueSequence && !reader.ValueIsEscaped && Timeframes.TryParse(reader.ValueSpan, out var tf))
        {
            return tf;
        }

        var text = reader.GetString() ?? string.Empty;
        return Timeframes.TryParse(text.AsSpan(), out tf)
            ? tf
            : throw new JsonException(
                $"'{text}' is not a Binance interval name; valid (case-sensitive): {string.Join(", ", Timeframes.Names)}.");
    }

    public override void Write(Utf8JsonWriter writer, Timeframe value, JsonSerializerOptions options) =>
        writer.WriteStringValue(value.ToName());
}
