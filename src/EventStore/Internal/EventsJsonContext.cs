using System.Text.Json;
using System.Text.Json.Serialization;
using SignalStream.Engine.Events;

namespace SignalStream.EventStore.Internal;

/// <summary>Source-generated JSON for stored events: camelCase like the wire contract, so stored data reads like the API.</summary>
[JsonSourceGenerationOptions(
    JsonSerializerDefaults.Web,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(CandleClosed))]
[JsonSerializable(typeof(SignalIssued))]
[JsonSerializable(typeof(ShadowSignalIssued))]
[JsonSerializable(typeof(SignalResolved))]
[JsonSerializable(typeof(ModelActivated))]
[JsonSerializable(typeof(ModelDeactivated))]
[JsonSerializable(typeof(TradingViewAlertReceived))]
internal sealed partial class EventsJsonContext : JsonSerializerContext;
