using System.Text;
using SignalStream.Engine.Events;
using static SignalStream.EventStore.Tests.TestSignals;

namespace SignalStream.EventStore.Tests;

public sealed class EventSerializerTests
{
    [Fact]
    public void EveryEventRoundTripsWithItsTypeNameAndVersion()
    {
        var signal = Signal("BTCUSDT", 3);
        ISignalStreamEvent[] events =
        [
            new CandleClosed("binance", Closed("BTCUSDT", 1).Candle, Contracts.CandleOrigin.Live, 1, 2),
            new SignalIssued(signal),
            new ShadowSignalIssued(signal),
            new SignalResolved(Outcome(signal, Contracts.OutcomeKind.Expired)),
            new ModelActivated("lstm", "1.2.0", new string('a', 64), "shadow", 5),
            new ModelDeactivated("lstm", "1.1.0", "replaced", 6),
        ];

        foreach (var e in events)
        {
            var data = EventSerializer.Serialize(e, Guid.NewGuid(), DateTimeOffset.UnixEpoch);
            Assert.True(EventSerializer.TryDeserialize(data.Type, data.SchemaVersion, data.Data.Span, out var back, out var error), error);
            Assert.Equal(e.GetType(), back.GetType());
            Assert.Equal(System.Text.Json.JsonSerializer.Serialize(e, e.GetType(), SerializerOptions), System.Text.Json.JsonSerializer.Serialize(back, back.GetType(), SerializerOptions));
        }
    }

    [Fact]
    public void ModelActivatedV1IsUpcastWithStatusActive()
    {
        var v1 = """{"name":"lstm","version":"1.0.0","sha256":"ab","activatedAt":7}"""u8;

        Assert.True(EventSerializer.TryDeserialize(EventSerializer.ModelActivatedType, 1, v1, out var e, out _));

        Assert.Equal(new ModelActivated("lstm", "1.0.0", "ab", "active", 7), e);
    }

    [Theory]
    [InlineData("no_such_type", 1, "{}", "unknown event type")]
    [InlineData(EventSerializer.SignalIssuedType, 99, "{}", "unknown event type")]
    [InlineData(EventSerializer.CandleClosedType, 1, "{not json", "does not parse")]
    public void UnreadableEventsAreResultsNotExceptions(string type, int version, string json, string expected)
    {
        Assert.False(EventSerializer.TryDeserialize(type, version, Encoding.UTF8.GetBytes(json), out _, out var error));
        Assert.Contains(expected, error);
    }

    private static readonly System.Text.Json.JsonSerializerOptions SerializerOptions = new(System.Text.Json.JsonSerializerDefaults.Web)
    {
        TypeInfoResolver = new System.Text.Json.Serialization.Metadata.DefaultJsonTypeInfoResolver(),
    };
}
