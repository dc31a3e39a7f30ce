using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using MessagePack;
using SignalStream.Contracts;
using SignalStream.Contracts.Serialization;
using SignalStream.Hub.FanOut.Internal;

namespace SignalStream.Hub.Tests.Hubs;

/// <summary>
/// The hub's messages carry the same keys and values over MessagePack as over JSON: the contracts' <c>[DataMember]</c>
/// and <c>[EnumMember]</c> names are what MessagePack-CSharp writes. The differences are the ones docs/hub.md states:
/// decimals are strings (exact), and a null or false field JSON omits is written.
/// </summary>
public sealed class MessagePackContractTests
{
    [Fact]
    public void ASignalHasTheJsonKeysAndValues()
    {
        var signal = TestSignals.Signal("BTCUSDT", 7) with
        {
            Entry = 97_123.12345678m,
            Target = 0.00001234m,
            PublishedAt = TestSignals.BaseTime + 1,
            Source = SignalSources.TradingView("desk"),
            Models = [new ModelVote("tv", "2", "tradingview", "long", 1, new ClassProbabilities(0.1, 0.2, 0.7)) { IsShadow = true }],
        };

        AssertSame(JsonSerializer.SerializeToNode(signal, ContractsJsonContext.Default.Signal), MessagePack(signal));
    }

    [Fact]
    public void AnOutcomeACandleAndASubscribeResultHaveTheJsonKeysAndValues()
    {
        var signal = TestSignals.Signal("ETHUSDT", 3);
        var outcome = TestSignals.Outcome(signal) with { Outcome = OutcomeKind.Loss, RMultiple = -1, IsShadow = true };
        var candle = CandleMessage.From(TestSignals.Candle("ETHUSDT", Timeframe.OneHour, 2, closed: false));
        var result = new SubscribeResult("ETHUSDT", ["1m", "1h"], 3, Recovered: false, [signal], "the store did not answer in time")
        {
            LatestOutcomeSeq = 1,
            Outcomes = [outcome with { IsShadow = false, OutcomeSeq = 1 }],
            OutcomesRecovered = false,
        };
        var withoutReason = result with { Reason = null, Recovered = true, OutcomesRecovered = true };

        AssertSame(JsonSerializer.SerializeToNode(outcome, ContractsJsonContext.Default.SignalOutcome), MessagePack(outcome));
        AssertSame(JsonSerializer.SerializeToNode(candle, ContractsJsonContext.Default.CandleMessage), MessagePack(candle));
        AssertSame(JsonSerializer.SerializeToNode(result, ContractsJsonContext.Default.SubscribeResult), MessagePack(result));
        AssertSame(JsonSerializer.SerializeToNode(withoutReason, ContractsJsonContext.Default.SubscribeResult), MessagePack(withoutReason));
    }

    [Fact]
    public void EveryTimeframeDirectionAndOutcomeIsWrittenAndReadByItsJsonName()
    {
        foreach (var timeframe in Timeframes.All)
        {
            var bytes = MessagePackSerializer.Serialize(timeframe, MessagePackFrames.SerializerOptions);
            Assert.Equal(timeframe.ToName(), MessagePackSerializer.Deserialize<string>(bytes, MessagePackFrames.SerializerOptions));
            Assert.Equal(timeframe, MessagePackSerializer.Deserialize<Timeframe>(bytes, MessagePackFrames.SerializerOptions));
        }

        Assert.Equal("\"short\"", MessagePackSerializer.SerializeToJson(SignalDirection.Short, MessagePackFrames.SerializerOptions));
        Assert.Equal("\"expired\"", MessagePackSerializer.SerializeToJson(OutcomeKind.Expired, MessagePackFrames.SerializerOptions));
    }

    [Fact]
    public void ASubscribeRequestAsAJavaScriptClientWritesItBinds()
    {
        // @msgpack/msgpack writes a whole JavaScript number as an integer: minConfidence 60 arrives as one.
        var bytes = MessagePackSerializer.ConvertFromJson("{\"symbol\":\"btcusdt\",\"timeframes\":[\"1m\",\"1M\"],\"minConfidence\":60,\"afterSeq\":12}");

        var request = MessagePackSerializer.Deserialize<SubscribeRequest>(bytes, MessagePackFrames.SerializerOptions);

        Assert.Equal("btcusdt", request.Symbol);
        Assert.Equal(["1m", "1M"], request.Timeframes);
        Assert.Equal(60, request.MinConfidence);
        Assert.Equal(12, request.AfterSeq);
    }

    private static JsonNode? MessagePack<T>(T value) =>
        JsonNode.Parse(MessagePackSerializer.SerializeToJson(value, MessagePackFrames.SerializerOptions));

    /// <summary>Same keys with the same values; a decimal may be a string holding the same number, and a key JSON omits
    /// must be null or false.</summary>
    private static void AssertSame(JsonNode? json, JsonNode? messagePack, string path = "$")
    {
        switch (json, messagePack)
        {
            case (JsonObject j, JsonObject m):
                foreach (var (key, value) in m)
                {
                    if (!j.ContainsKey(key))
                    {
                        Assert.True(value is null || value.GetValueKind() == JsonValueKind.False, $"{path}.{key} is {value?.ToJsonString()} in MessagePack and absent from JSON");
                    }
                }

                foreach (var (key, value) in j)
                {
                    Assert.True(m.ContainsKey(key), $"{path}.{key} is missing from MessagePack");
                    AssertSame(value, m[key], $"{path}.{key}");
                }

                break;
            case (JsonArray j, JsonArray m):
                Assert.Equal(j.Count, m.Count);
                for (var i = 0; i < j.Count; i++)
                {
                    AssertSame(j[i], m[i], $"{path}[{i}]");
                }

                break;
            case (JsonValue j, JsonValue m) when j.GetValueKind() == JsonValueKind.Number && m.GetValueKind() == JsonValueKind.String:
                Assert.Equal(decimal.Parse(j.ToJsonString(), CultureInfo.InvariantCulture), decimal.Parse(m.GetValue<string>(), CultureInfo.InvariantCulture));
                break;
            default:
                Assert.True(JsonNode.DeepEquals(json, messagePack), $"{path}: JSON {json?.ToJsonString()}, MessagePack {messagePack?.ToJsonString()}");
                break;
        }
    }
}
