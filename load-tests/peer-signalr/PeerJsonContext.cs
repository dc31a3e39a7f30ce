using System.Text.Json;
using System.Text.Json.Serialization;

namespace SignalStream.PeerSignalR;

/// <summary>Metadata for the peer's own hub types (the wire types' come from <c>ContractsJsonContext</c>).</summary>
[JsonSourceGenerationOptions(JsonSerializerDefaults.Web)]
[JsonSerializable(typeof(SubscribeAnswer))]
[JsonSerializable(typeof(string))]
internal sealed partial class PeerJsonContext : JsonSerializerContext;
