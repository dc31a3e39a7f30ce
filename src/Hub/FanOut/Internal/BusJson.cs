using System.Text.Json;
using System.Text.Json.Serialization;
using SignalStream.Contracts;

namespace SignalStream.Hub.FanOut.Internal;

/// <summary>
/// The bus wire format (docs/hub.md): <c>{"kind":"signal","signal":{…}}</c>, <c>{"kind":"outcome","outcome":{…}}</c>
/// or <c>{"kind":"candle","candle":{…}}</c>; payloads exactly as the hub sends them to clients.
/// </summary>
internal sealed class BusEnvelope
{
    public string Kind { get; set; } = "";

    public Signal? Signal { get; set; }

    public SignalOutcome? Outcome { get; set; }

    public CandleMessage? Candle { get; set; }

    public static byte[] Serialize(BusMessage message) => JsonSerializer.SerializeToUtf8Bytes(
        new BusEnvelope
        {
            Kind = message.Kind switch
            {
                BusMessageKind.Signal => "signal",
                BusMessageKind.Outcome => "outcome",
                _ => "candle",
            },
            Signal = message.Signal,
            Outcome = message.Outcome,
            Candle = message.Candle,
        },
        BusJsonContext.Default.BusEnvelope);

    /// <summary>Parses a bus payload; null (with <paramref name="error"/>) when it is not a valid message for <paramref name="symbol"/>.</summary>
    public static BusMessage? TryParse(ReadOnlySpan<byte> payload, string symbol, out string? error)
    {
        BusEnvelope? envelope;
        try
        {
            envelope = JsonSerializer.Deserialize(payload, BusJsonContext.Default.BusEnvelope);
        }
        catch (JsonException ex)
        {
            error = ex.Message;
            return null;
        }

        BusMessage? message = envelope switch
        {
            { Kind: "signal", Signal: { } s } => BusMessage.For(s),
            { Kind: "outcome", Outcome: { } o } => BusMessage.For(o),
            { Kind: "candle", Candle: { } c } => BusMessage.For(c),
            _ => null,
        };

        if (message is null)
        {
            error = "kind must be signal, outcome or candle with the matching payload";
            return null;
        }

        if (!string.Equals(message.Symbol, symbol, StringComparison.Ordinal))
        {
            error = $"payload symbol '{message.Symbol}' does not match channel symbol '{symbol}'";
            return null;
        }

        error = null;
        return message;
    }
}

[JsonSourceGenerationOptions(JsonSerializerDefaults.Web, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(BusEnvelope))]
internal sealed partial class BusJsonContext : JsonSerializerContext;
