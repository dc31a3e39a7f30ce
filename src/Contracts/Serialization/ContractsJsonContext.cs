using System.Text.Json;
using System.Text.Json.Serialization;

namespace SignalStream.Contracts.Serialization;

/// <summary>Source-generated JSON metadata for every wire type: camelCase, as the hub and REST API speak it.</summary>
[JsonSourceGenerationOptions(
    JsonSerializerDefaults.Web,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(Signal))]
[JsonSerializable(typeof(SignalOutcome))]
[JsonSerializable(typeof(CandleMessage))]
[JsonSerializable(typeof(SubscribeRequest))]
[JsonSerializable(typeof(SubscribeResult))]
[JsonSerializable(typeof(Candle))]
[JsonSerializable(typeof(ModelInfo))]
[JsonSerializable(typeof(IReadOnlyList<ModelInfo>))]
[JsonSerializable(typeof(PerformanceReport))]
[JsonSerializable(typeof(IReadOnlyList<Signal>))]
[JsonSerializable(typeof(IReadOnlyList<SignalOutcome>))]
[JsonSerializable(typeof(IReadOnlyList<Candle>))]
[JsonSerializable(typeof(IReadOnlyList<CandleMessage>))]
public sealed partial class ContractsJsonContext : JsonSerializerContext;
