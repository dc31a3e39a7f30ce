using System.Text;
using SignalStream.Engine.Events;
using static SignalStream.Testing.TestSignals;

namespace SignalStream.EventStore.Tests;

public sealed class EventSerializerTests
{
    [Fact]
    public void EveryEventRoundTripsWithItsTypeNameAndVersion()
    {
        // Eight decimals in prices and volumes: the serializer must keep every one.
        var signal = Signal("BTCUSDT", 3) with { Entry = 65000.12345678m, Stop = 64500.5m };
        var candle = Candle("BTCUSDT", Contracts.Timeframe.OneMinute, 1).Candle with { Close = 65001.87654321m, Volume = 12.34567891m };
        ISignalStreamEvent[] events =
        [
            new CandleClosed("binance", candle, Contracts.CandleOrigin.Live, 1, 2),
            new SignalIssued(signal),
            new ShadowSignalIssued(signal),
            new SignalResolved(Outcome(signal, Contracts.OutcomeKind.Expired)),
            new ModelActivated("lstm", "1.2.0", new string('a', 64), "shadow", 5),
            new ModelDeactivated("lstm", "1.1.0", "replaced", 6),
            new TradingViewAlertReceived
            {
                Id = Guid.NewGuid(),
                Source = "tradingview:main",
                Mode = "vote",
                Action = "buy",
                Symbol = "BTCUSDT",
                Timeframe = Contracts.Timeframe.FifteenMinutes,
                Price = 65000.5m,
                Target = 66000m,
                Strategy = "RSI dip",
                Ticker = "BINANCE:BTCUSDT",
                Interval = "15",
                DedupeKey = "sha256:ab",
                ReceivedAt = 7,
                MarketTime = 6,
                Signal = signal with { Source = "tradingview:main", Seq = 0 },
                Vote = new AlertVote(0.25, new Contracts.ClassProbabilities(0.15, 0.15, 0.7), 6, 3_600_006),
            },
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
    public void AStoredSignalsTimeframeIsReadWithoutAllocating()
    {
        var stored = Contracts.Timeframes.All
            .Select(tf => Stored(new SignalIssued(Signal("BTCUSDT", 3) with { Timeframe = tf })))
            .ToArray();
        Assert.True(EventSerializer.TryReadSignalTimeframe(stored[0], out _)); // first call: nothing lazily built is counted below

        var read = new Contracts.Timeframe[stored.Length];
        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < stored.Length; i++)
        {
            Assert.True(EventSerializer.TryReadSignalTimeframe(stored[i], out read[i]));
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
        Assert.Equal(Contracts.Timeframes.All, read);
    }

    [Fact]
    public void ATimeframeIsReadOnlyFromACurrentSignalIssuedAndOtherwiseLeftToDeserialization()
    {
        var signal = Signal("BTCUSDT", 3);
        var current = Stored(new SignalIssued(signal));
        Assert.False(EventSerializer.TryReadSignalTimeframe(Stored(new ShadowSignalIssued(signal)), out _));
        Assert.False(EventSerializer.TryReadSignalTimeframe(current with { SchemaVersion = 2 }, out _));
        Assert.False(EventSerializer.TryReadSignalTimeframe(current with { Data = "{\"signal\":{\"seq\":3}}"u8.ToArray() }, out _));
        Assert.False(EventSerializer.TryReadSignalTimeframe(current with { Data = "{\"signal\":{\"timeframe\":\"7x\"}}"u8.ToArray() }, out _));
        Assert.False(EventSerializer.TryReadSignalTimeframe(current with { Data = "{\"signal\":"u8.ToArray() }, out _));
        Assert.False(EventSerializer.TryReadSignalTimeframe(current with { Data = "not json"u8.ToArray() }, out _));

        // The property's place in the object does not matter, nor do other properties before it.
        Assert.True(EventSerializer.TryReadSignalTimeframe(
            current with { Data = "{\"other\":[1,{\"timeframe\":\"1d\"}],\"signal\":{\"seq\":3,\"nested\":{\"timeframe\":\"1d\"},\"timeframe\":\"4h\"}}"u8.ToArray() },
            out var tf));
        Assert.Equal(Contracts.Timeframe.FourHours, tf);
    }

    private static StoredEvent Stored(ISignalStreamEvent e)
    {
        var data = EventSerializer.Serialize(e, Guid.NewGuid(), DateTimeOffset.UnixEpoch);
        return new StoredEvent(1, "signals-BTCUSDT", 1, data.EventId, data.Type, data.SchemaVersion, data.Data, data.CreatedAt);
    }

    [Fact]
    public void ASignalAndAnOutcomeStoredBeforeSourcesExistedReadAsTheEnsembles()
    {
        var signal = EventSerializer.Serialize(new SignalIssued(Signal("BTCUSDT", 3)), Guid.NewGuid(), DateTimeOffset.UnixEpoch);
        var outcome = EventSerializer.Serialize(new SignalResolved(Outcome(Signal("BTCUSDT", 3), Contracts.OutcomeKind.Win)), Guid.NewGuid(), DateTimeOffset.UnixEpoch);
        var oldSignal = Encoding.UTF8.GetString(signal.Data.Span).Replace(",\"source\":\"ensemble\"", "", StringComparison.Ordinal);
        var oldOutcome = Encoding.UTF8.GetString(outcome.Data.Span).Replace(",\"source\":\"ensemble\"", "", StringComparison.Ordinal);
        Assert.DoesNotContain("source", oldSignal);
        Assert.DoesNotContain("source", oldOutcome);

        Assert.True(EventSerializer.TryDeserialize(signal.Type, signal.SchemaVersion, Encoding.UTF8.GetBytes(oldSignal), out var s, out _));
        Assert.True(EventSerializer.TryDeserialize(outcome.Type, outcome.SchemaVersion, Encoding.UTF8.GetBytes(oldOutcome), out var o, out _));
        Assert.Equal("ensemble", ((SignalIssued)s).Signal.Source);
        Assert.Equal("ensemble", ((SignalResolved)o).Outcome.Source);
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

    [Fact]
    public void StoredBytesAreThoseOfTheSerializerAndEveryEventKeepsItsOwnAcrossSlabs()
    {
        // 2,000 candles span several shared slabs; a long model name takes the own-array path.
        var events = new List<ISignalStreamEvent>();
        for (var i = 0; i < 2000; i++)
        {
            events.Add(new CandleClosed("binance", Candle("SYM" + (i % 7), Contracts.Timeframe.OneMinute, i).Candle, Contracts.CandleOrigin.Live, i, i + 1));
        }

        events.Add(new ModelActivated(new string('m', 40_000), "1.0.0", new string('a', 64), "active", 5));
        events.Add(new SignalResolved(Outcome(Signal("ETHUSDT", 2), Contracts.OutcomeKind.Win)));

        var stored = events.Select(e => EventSerializer.Serialize(e, Guid.NewGuid(), DateTimeOffset.UnixEpoch)).ToList();

        for (var i = 0; i < events.Count; i++)
        {
            var expected = System.Text.Json.JsonSerializer.SerializeToUtf8Bytes(events[i], events[i].GetType(), StoredOptions);
            Assert.Equal(expected, stored[i].Data.ToArray());
        }
    }

    // The stored form's documented options (docs/events.md): web defaults (camelCase), nulls left out.
    private static readonly System.Text.Json.JsonSerializerOptions StoredOptions = new(System.Text.Json.JsonSerializerDefaults.Web)
    {
        TypeInfoResolver = new System.Text.Json.Serialization.Metadata.DefaultJsonTypeInfoResolver(),
        DefaultIgnoreCondition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull,
    };

    private static readonly System.Text.Json.JsonSerializerOptions SerializerOptions = new(System.Text.Json.JsonSerializerDefaults.Web)
    {
        TypeInfoResolver = new System.Text.Json.Serialization.Metadata.DefaultJsonTypeInfoResolver(),
    };
}
