using System.Diagnostics.CodeAnalysis;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization.Metadata;
using SignalStream.Engine.Events;
using SignalStream.EventStore.Internal;

namespace SignalStream.EventStore;

/// <summary>
/// Maps events to their stored form (type name, schema version, UTF-8 JSON) and back, upcasting older schema versions
/// on read. The type names and versions are a contract: see <c>docs/events.md</c> before changing any.
/// </summary>
public static class EventSerializer
{
    /// <summary>Type name of <see cref="CandleClosed"/>.</summary>
    public const string CandleClosedType = "candle_closed";

    /// <summary>Type name of <see cref="SignalIssued"/>.</summary>
    public const string SignalIssuedType = "signal_issued";

    /// <summary>Type name of <see cref="ShadowSignalIssued"/>.</summary>
    public const string ShadowSignalIssuedType = "shadow_signal_issued";

    /// <summary>Type name of <see cref="SignalResolved"/>.</summary>
    public const string SignalResolvedType = "signal_resolved";

    /// <summary>Type name of <see cref="ModelActivated"/>.</summary>
    public const string ModelActivatedType = "model_activated";

    /// <summary>Type name of <see cref="ModelDeactivated"/>.</summary>
    public const string ModelDeactivatedType = "model_deactivated";

    /// <summary>Type name of <see cref="TradingViewAlertReceived"/>.</summary>
    public const string TradingViewAlertType = "tradingview_alert_received";

    // Current schema versions. Bump one only together with an upcaster from the previous version (see docs/events.md).
    internal const int CandleClosedVersion = 1;
    internal const int SignalIssuedVersion = 1;
    internal const int ShadowSignalIssuedVersion = 1;
    internal const int SignalResolvedVersion = 1;
    internal const int ModelActivatedVersion = 2;
    internal const int ModelDeactivatedVersion = 1;
    internal const int TradingViewAlertVersion = 1;

    /// <summary>Serializes an event once into its stored form.</summary>
    public static EventData Serialize(ISignalStreamEvent @event, Guid eventId, DateTimeOffset createdAt) => @event switch
    {
        CandleClosed e => new(eventId, CandleClosedType, CandleClosedVersion, Bytes(e, EventsJsonContext.Default.CandleClosed), createdAt),
        SignalIssued e => new(eventId, SignalIssuedType, SignalIssuedVersion, Bytes(e, EventsJsonContext.Default.SignalIssued), createdAt),
        ShadowSignalIssued e => new(eventId, ShadowSignalIssuedType, ShadowSignalIssuedVersion, Bytes(e, EventsJsonContext.Default.ShadowSignalIssued), createdAt),
        SignalResolved e => new(eventId, SignalResolvedType, SignalResolvedVersion, Bytes(e, EventsJsonContext.Default.SignalResolved), createdAt),
        ModelActivated e => new(eventId, ModelActivatedType, ModelActivatedVersion, Bytes(e, EventsJsonContext.Default.ModelActivated), createdAt),
        ModelDeactivated e => new(eventId, ModelDeactivatedType, ModelDeactivatedVersion, Bytes(e, EventsJsonContext.Default.ModelDeactivated), createdAt),
        TradingViewAlertReceived e => new(eventId, TradingViewAlertType, TradingViewAlertVersion, Bytes(e, EventsJsonContext.Default.TradingViewAlertReceived), createdAt),
        _ => throw new ArgumentException($"{@event.GetType().Name} has no stored form; add it to EventSerializer and docs/events.md.", nameof(@event)),
    };

    /// <summary>
    /// Reads a stored event, upcasting an older schema version to the current type. Returns false (never throws) for an
    /// unknown type, a version newer than this build knows, or data that does not parse; <paramref name="error"/> says which.
    /// </summary>
    public static bool TryDeserialize(
        string type,
        int schemaVersion,
        ReadOnlySpan<byte> data,
        [NotNullWhen(true)] out ISignalStreamEvent? @event,
        [NotNullWhen(false)] out string? error)
    {
        @event = null;
        try
        {
            switch (type)
            {
                case CandleClosedType when schemaVersion == CandleClosedVersion:
                    @event = JsonSerializer.Deserialize(data, EventsJsonContext.Default.CandleClosed);
                    break;
                case SignalIssuedType when schemaVersion == SignalIssuedVersion:
                    @event = JsonSerializer.Deserialize(data, EventsJsonContext.Default.SignalIssued);
                    break;
                case ShadowSignalIssuedType when schemaVersion == ShadowSignalIssuedVersion:
                    @event = JsonSerializer.Deserialize(data, EventsJsonContext.Default.ShadowSignalIssued);
                    break;
                case SignalResolvedType when schemaVersion == SignalResolvedVersion:
                    @event = JsonSerializer.Deserialize(data, EventsJsonContext.Default.SignalResolved);
                    break;
                case ModelActivatedType when schemaVersion == ModelActivatedVersion:
                    @event = JsonSerializer.Deserialize(data, EventsJsonContext.Default.ModelActivated);
                    break;
                case ModelActivatedType when schemaVersion == 1:
                    @event = Upcast(data, UpcastModelActivatedV1ToV2, EventsJsonContext.Default.ModelActivated);
                    break;
                case ModelDeactivatedType when schemaVersion == ModelDeactivatedVersion:
                    @event = JsonSerializer.Deserialize(data, EventsJsonContext.Default.ModelDeactivated);
                    break;
                case TradingViewAlertType when schemaVersion == TradingViewAlertVersion:
                    @event = JsonSerializer.Deserialize(data, EventsJsonContext.Default.TradingViewAlertReceived);
                    break;
                default:
                    error = $"unknown event type '{type}' at schema version {schemaVersion} (written by a newer build?)";
                    return false;
            }
        }
        catch (JsonException ex)
        {
            error = $"'{type}' v{schemaVersion} does not parse: {ex.Message}";
            return false;
        }

        if (@event is null)
        {
            error = $"'{type}' v{schemaVersion} is JSON null";
            return false;
        }

        error = null;
        return true;
    }

    /// <summary>
    /// The timeframe of a stored <see cref="SignalIssued"/> at the current schema version, read without deserializing the
    /// signal (no allocation): a reader that wants one signal per timeframe skips the rest unparsed. False for any other
    /// event, version or shape; the caller then deserializes as usual.
    /// </summary>
    public static bool TryReadSignalTimeframe(StoredEvent stored, out Contracts.Timeframe timeframe)
    {
        timeframe = default;
        if (stored.Type != SignalIssuedType || stored.SchemaVersion != SignalIssuedVersion)
        {
            return false;
        }

        try
        {
            var reader = new Utf8JsonReader(stored.Data.Span);
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                return false;
            }

            // {"signal": {…, "timeframe": "1m", …}}: the event's one property, then the signal's.
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                var isSignal = reader.CurrentDepth == 1 && reader.ValueTextEquals("signal"u8);
                if (!reader.Read())
                {
                    return false;
                }

                if (!isSignal || reader.TokenType != JsonTokenType.StartObject)
                {
                    reader.Skip();
                    continue;
                }

                while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
                {
                    var isTimeframe = reader.ValueTextEquals("timeframe"u8);
                    if (!reader.Read())
                    {
                        return false;
                    }

                    if (isTimeframe)
                    {
                        return reader.TokenType == JsonTokenType.String && !reader.ValueIsEscaped
                            && Contracts.Timeframes.TryParse(reader.ValueSpan, out timeframe);
                    }

                    reader.Skip();
                }

                return false;
            }
        }
        catch (JsonException)
        {
            // Not JSON after all: the caller's deserialization names the problem.
        }

        return false;
    }

    /// <summary>Reads a stored event (see <see cref="TryDeserialize"/>).</summary>
    public static bool TryDeserialize(StoredEvent stored, [NotNullWhen(true)] out ISignalStreamEvent? @event, [NotNullWhen(false)] out string? error) =>
        TryDeserialize(stored.Type, stored.SchemaVersion, stored.Data.Span, out @event, out error);

    private static ReadOnlyMemory<byte> Bytes<T>(T value, JsonTypeInfo<T> typeInfo) => EventBytes.Serialize(value, typeInfo);

    private static T? Upcast<T>(ReadOnlySpan<byte> data, Action<JsonObject> upcast, JsonTypeInfo<T> typeInfo)
    {
        var node = JsonNode.Parse(data) as JsonObject ?? throw new JsonException("expected a JSON object");
        upcast(node);
        return node.Deserialize(typeInfo);
    }

    // v1 (before shadow models) had no status: every activated model was live.
    private static void UpcastModelActivatedV1ToV2(JsonObject v1) => v1["status"] ??= "active";
}
