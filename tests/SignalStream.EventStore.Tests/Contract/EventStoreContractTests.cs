using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Logging.Abstractions;
using SignalStream.Contracts;
using SignalStream.Engine.Events;
using static SignalStream.EventStore.Tests.TestEvents;

namespace SignalStream.EventStore.Tests.Contract;

/// <summary>
/// The specification every <see cref="IEventStore"/> provider passes (SignalR's HubLifetimeManagerTestBase pattern):
/// one abstract suite, one derived class per provider.
/// </summary>
public abstract class EventStoreContractTests : IAsyncLifetime
{
    private readonly List<IAsyncDisposable> _owned = [];

    /// <summary>A fresh, empty, initialized store.</summary>
    protected abstract Task<IEventStore> CreateStoreAsync();

    /// <summary>A second instance over the same storage (a restart), initialized.</summary>
    protected abstract Task<IEventStore> ReopenAsync(IEventStore store);

    public Task InitializeAsync() => Task.CompletedTask;

    public virtual async Task DisposeAsync()
    {
        foreach (var owned in _owned)
        {
            await owned.DisposeAsync();
        }
    }

    protected T Own<T>(T disposable) where T : IAsyncDisposable
    {
        _owned.Add(disposable);
        return disposable;
    }

    [Fact]
    public async Task AppendedEventsAreReadBackInOrderWithContiguousVersions()
    {
        var store = await CreateStoreAsync();
        var events = Events(5);
        var result = await store.AppendAsync(Group(Append("s-1", ExpectedVersions.NoStream, events))).AsTask().WaitAsync(Wait);

        Assert.Equal(AppendStatus.Committed, result.Status);
        Assert.Equal(5, result.Appended);
        var read = await store.ReadStreamAsync("s-1", 1, 100).AsTask().WaitAsync(Wait);
        Assert.Equal(events.Select(e => e.EventId), read.Select(e => e.EventId));
        Assert.Equal([1L, 2, 3, 4, 5], read.Select(e => e.Version));
        Assert.All(read, e => Assert.Equal("s-1", e.StreamId));
        Assert.Equal(5, await store.GetStreamVersionAsync("s-1").AsTask().WaitAsync(Wait));
    }

    [Fact]
    public async Task StoredEventKeepsTypeSchemaVersionTimestampAndJson()
    {
        var store = await CreateStoreAsync();
        var original = new EventData(Guid.NewGuid(), "custom_type", 7, """{"price":12345.67890123,"name":"x"}"""u8.ToArray(), DateTimeOffset.FromUnixTimeMilliseconds(1_700_000_000_123));
        await store.AppendAsync(Group(Append("s-1", ExpectedVersions.Any, original))).AsTask().WaitAsync(Wait);

        var stored = Assert.Single(await store.ReadStreamAsync("s-1", 1, 10).AsTask().WaitAsync(Wait));
        Assert.Equal("custom_type", stored.Type);
        Assert.Equal(7, stored.SchemaVersion);
        Assert.Equal(original.CreatedAt, stored.Timestamp);
        using var json = JsonDocument.Parse(stored.Data);
        Assert.Equal(12345.67890123m, json.RootElement.GetProperty("price").GetDecimal());
        Assert.Equal("x", json.RootElement.GetProperty("name").GetString());
    }

    [Fact]
    public async Task AGroupSpansStreamsAndContinuesEachStreamsVersions()
    {
        var store = await CreateStoreAsync();
        await store.AppendAsync(Group(Append("a", ExpectedVersions.Any, Events(2)))).AsTask().WaitAsync(Wait);

        var result = await store.AppendAsync(Group(
            Append("a", 2, Events(3)),
            Append("b", ExpectedVersions.NoStream, Events(1)))).AsTask().WaitAsync(Wait);

        Assert.Equal(4, result.Appended);
        Assert.Equal(5, await store.GetStreamVersionAsync("a").AsTask().WaitAsync(Wait));
        Assert.Equal(1, await store.GetStreamVersionAsync("b").AsTask().WaitAsync(Wait));
        Assert.Equal([3L, 4, 5], (await store.ReadStreamAsync("a", 3, 10).AsTask().WaitAsync(Wait)).Select(e => e.Version));
    }

    [Fact]
    public async Task OutcomesAreReadAfterAnOutcomeSeqWithALimitEachCarryingItsStreamVersion()
    {
        var store = await CreateStoreAsync();
        var history = new SignalHistory(store, new EventNamespace(null), NullLogger<SignalHistory>.Instance);
        var outcomes = Enumerable.Range(1, 5)
            .Select(seq => TestSignals.Outcome(TestSignals.Signal("BTCUSDT", seq), outcomeSeq: seq))
            .Select(o => EventSerializer.Serialize(new SignalResolved(o), Guid.NewGuid(), DateTimeOffset.UnixEpoch))
            .ToArray();

        // An outcome stored before outcomeSeq existed has none in its JSON: its stream version is its outcomeSeq.
        var legacy = Encoding.UTF8.GetString(outcomes[4].Data.Span).Replace("\"outcomeSeq\":5,", "", StringComparison.Ordinal);
        Assert.DoesNotContain("outcomeSeq", legacy, StringComparison.Ordinal);
        outcomes[4] = outcomes[4] with { Data = Encoding.UTF8.GetBytes(legacy) };
        await store.AppendAsync(Group(new StreamAppend(EventStreams.Outcomes("BTCUSDT"), EventStreams.OutcomesType, ExpectedVersions.NoStream, outcomes))).AsTask().WaitAsync(Wait);

        var page = await history.ReadOutcomesAsync("BTCUSDT", 1, 3, default).AsTask().WaitAsync(Wait);
        Assert.Equal([(2L, 2L), (3L, 3L), (4L, 4L)], page.Select(o => (o.OutcomeSeq, o.SignalSeq)));
        Assert.Equal([5L], (await history.ReadOutcomesAsync("BTCUSDT", 4, 10, default).AsTask().WaitAsync(Wait)).Select(o => o.OutcomeSeq));
        Assert.Empty(await history.ReadOutcomesAsync("BTCUSDT", 5, 10, default).AsTask().WaitAsync(Wait));
        Assert.Empty(await history.ReadOutcomesAsync("ETHUSDT", 0, 10, default).AsTask().WaitAsync(Wait));
        Assert.Equal(5, await history.GetLastOutcomeSeqAsync("BTCUSDT", default).AsTask().WaitAsync(Wait));
        Assert.Equal(OutcomeKind.Win, page[0].Outcome);
    }

    [Fact]
    public async Task ClosedCandlesAreReadAfterAnOpenTimeAcrossHolesInTheirOpenTimes()
    {
        var store = await CreateStoreAsync();
        var history = new SignalHistory(store, new EventNamespace(null), NullLogger<SignalHistory>.Instance);
        var stream = new StreamKey("BTCUSDT", Timeframe.OneMinute);

        // Candle indexes with holes (exchange outages) of 1, 3 and 40 minutes: versions 1..n do not follow the times.
        var indexes = Enumerable.Range(0, 10).Concat(Enumerable.Range(11, 5)).Concat(Enumerable.Range(19, 30)).Concat(Enumerable.Range(89, 7)).ToArray();
        var openTimes = indexes.Select(i => TestSignals.Candle(stream.Symbol, stream.Timeframe, i).Candle.OpenTime).ToArray();
        var events = indexes
            .Select(i => TestSignals.Candle(stream.Symbol, stream.Timeframe, i))
            .Select(c => EventSerializer.Serialize(new CandleClosed(c.Exchange, c.Candle, c.Origin, c.EventTime, c.ReceivedAt), Guid.NewGuid(), DateTimeOffset.UnixEpoch))
            .ToArray();
        await store.AppendAsync(Group(new StreamAppend(EventStreams.Candles(stream), EventStreams.CandlesType, ExpectedVersions.NoStream, events))).AsTask().WaitAsync(Wait);

        // Every stored open time, every time between two of them, before the first and after the last.
        var afters = openTimes.SelectMany(t => new[] { t - 1, t, t + 1 }).Append(0).Append(long.MaxValue);
        foreach (var after in afters)
        {
            foreach (var limit in new[] { 1, 3, 100 })
            {
                var page = await history.ReadCandlesAsync(stream, after, limit, default).AsTask().WaitAsync(Wait);
                Assert.Equal(openTimes.Where(t => t > after).Take(limit), page.Select(c => c.OpenTime));
            }
        }

        var first = Assert.Single(await history.ReadCandlesAsync(stream, 0, 1, default).AsTask().WaitAsync(Wait));
        Assert.Equal(TestSignals.Candle(stream.Symbol, stream.Timeframe, 0).Candle, first);
        Assert.Empty(await history.ReadCandlesAsync(stream with { Timeframe = Timeframe.FiveMinutes }, 0, 10, default).AsTask().WaitAsync(Wait));
        Assert.Empty(await history.ReadCandlesAsync(stream, 0, 0, default).AsTask().WaitAsync(Wait));
    }

    [Fact]
    public async Task WrongExpectedVersionRejectsTheWholeGroup()
    {
        var store = await CreateStoreAsync();
        await store.AppendAsync(Group(Append("a", ExpectedVersions.Any, Events(2)))).AsTask().WaitAsync(Wait);

        var result = await store.AppendAsync(Group(
            Append("b", ExpectedVersions.NoStream, Events(1)),
            Append("a", 1, Events(1)))).AsTask().WaitAsync(Wait);

        Assert.Equal(AppendStatus.WrongExpectedVersion, result.Status);
        Assert.Equal("a", result.ConflictStreamId);
        Assert.Equal(2, result.ConflictActualVersion);
        Assert.Equal(0, await store.GetStreamVersionAsync("b").AsTask().WaitAsync(Wait));
        Assert.Empty(await store.ReadStreamAsync("b", 1, 10).AsTask().WaitAsync(Wait));
        Assert.Equal(2, await store.GetStreamVersionAsync("a").AsTask().WaitAsync(Wait));
    }

    [Fact]
    public async Task ExpectingAStreamThatDoesNotExistToHaveEventsIsAConflict()
    {
        var store = await CreateStoreAsync();

        var result = await store.AppendAsync(Group(Append("missing", 3, Events(1)))).AsTask().WaitAsync(Wait);

        Assert.Equal(AppendStatus.WrongExpectedVersion, result.Status);
        Assert.Equal(0, result.ConflictActualVersion);
        Assert.Equal(0, await store.GetStreamVersionAsync("missing").AsTask().WaitAsync(Wait));
    }

    [Fact]
    public async Task ReappendingTheSameEventIdsWritesNothingTwice()
    {
        var store = await CreateStoreAsync();
        var events = Events(3);
        await store.AppendAsync(Group(Append("a", ExpectedVersions.NoStream, events))).AsTask().WaitAsync(Wait);

        // A writer that lost the commit acknowledgement re-sends the same group, expected version and all.
        var again = await store.AppendAsync(Group(Append("a", ExpectedVersions.NoStream, events))).AsTask().WaitAsync(Wait);

        Assert.Equal(AppendStatus.Committed, again.Status);
        Assert.Equal(0, again.Appended);
        Assert.Equal(3, await store.GetStreamVersionAsync("a").AsTask().WaitAsync(Wait));
        Assert.Equal(events.Select(e => e.EventId), (await store.ReadStreamAsync("a", 1, 10).AsTask().WaitAsync(Wait)).Select(e => e.EventId));
    }

    [Fact]
    public async Task AGroupMixingStoredAndNewEventsAppendsOnlyTheNewOnes()
    {
        var store = await CreateStoreAsync();
        var first = Events(2);
        await store.AppendAsync(Group(Append("a", ExpectedVersions.Any, first))).AsTask().WaitAsync(Wait);
        var next = Events(2);

        var result = await store.AppendAsync(Group(Append("a", ExpectedVersions.Any, [.. first, .. next]))).AsTask().WaitAsync(Wait);

        Assert.Equal(2, result.Appended);
        Assert.Equal(first.Concat(next).Select(e => e.EventId), (await store.ReadStreamAsync("a", 1, 10).AsTask().WaitAsync(Wait)).Select(e => e.EventId));
    }

    [Fact]
    public async Task ReadsHonourTheVersionRangeAndCount()
    {
        var store = await CreateStoreAsync();
        await store.AppendAsync(Group(Append("a", ExpectedVersions.Any, Events(10)))).AsTask().WaitAsync(Wait);

        Assert.Equal([4L, 5, 6], (await store.ReadStreamAsync("a", 4, 3).AsTask().WaitAsync(Wait)).Select(e => e.Version));
        Assert.Equal([9L, 10], (await store.ReadStreamAsync("a", 9, 100).AsTask().WaitAsync(Wait)).Select(e => e.Version));
        Assert.Empty(await store.ReadStreamAsync("a", 11, 100).AsTask().WaitAsync(Wait));
        Assert.Empty(await store.ReadStreamAsync("a", 1, 0).AsTask().WaitAsync(Wait));
        Assert.Equal([10L, 9, 8], (await store.ReadStreamBackwardAsync("a", 3).AsTask().WaitAsync(Wait)).Select(e => e.Version));
        Assert.Empty(await store.ReadStreamBackwardAsync("missing", 3).AsTask().WaitAsync(Wait));
        Assert.Equal(0, await store.GetStreamVersionAsync("missing").AsTask().WaitAsync(Wait));
    }

    [Fact]
    public async Task TheGlobalReaderReturnsEveryEventOnceInPositionOrder()
    {
        var store = await CreateStoreAsync();
        var appended = new List<Guid>();
        for (var i = 0; i < 5; i++)
        {
            var a = Events(3);
            var b = Events(2);
            appended.AddRange(a.Select(e => e.EventId));
            appended.AddRange(b.Select(e => e.EventId));
            await store.AppendAsync(Group(Append("a", ExpectedVersions.Any, a), Append("b-" + (i % 2), ExpectedVersions.Any, b))).AsTask().WaitAsync(Wait);
        }

        await using var reader = store.OpenGlobalReader(0);
        var seen = new List<StoredEvent>();
        while (seen.Count < appended.Count)
        {
            var page = await reader.ReadNextAsync(4).AsTask().WaitAsync(Wait);
            Assert.NotEmpty(page);
            seen.AddRange(page);
        }

        Assert.Empty(await reader.ReadNextAsync(4).AsTask().WaitAsync(Wait));
        Assert.Equal(appended, seen.Select(e => e.EventId));
        Assert.True(seen.Zip(seen.Skip(1)).All(p => p.First.Position < p.Second.Position));
        Assert.Equal(seen[^1].Position, reader.Position);

        // A reader resumed from a position sees only what follows it.
        await using var resumed = store.OpenGlobalReader(seen[9].Position);
        var rest = await resumed.ReadNextAsync(100).AsTask().WaitAsync(Wait);
        Assert.Equal(appended.Skip(10), rest.Select(e => e.EventId));
    }

    [Fact]
    public async Task AGlobalReaderAskingForSomeTypesDataStillSeesEveryEventButOnlyTheirsCarryData()
    {
        var store = await CreateStoreAsync();
        var candle = Event("candle_like", """{"c":1}""");
        var signal = Event("signal_like", """{"s":2}""");
        var other = Event("candle_like", """{"c":3}""");
        await store.AppendAsync(Group(Append("a", ExpectedVersions.Any, candle, signal), Append("b", ExpectedVersions.Any, other))).AsTask().WaitAsync(Wait);

        await using var reader = store.OpenGlobalReader(0, ["signal_like"]);
        var seen = await reader.ReadNextAsync(10).AsTask().WaitAsync(Wait);

        Assert.Equal([candle.EventId, signal.EventId, other.EventId], seen.Select(e => e.EventId));
        Assert.Equal(["candle_like", "signal_like", "candle_like"], seen.Select(e => e.Type));
        Assert.Equal([1L, 2, 1], seen.Select(e => e.Version));
        Assert.True(seen[0].Data.IsEmpty);
        Assert.True(seen[2].Data.IsEmpty);
        Assert.Equal(2, JsonDocument.Parse(seen[1].Data).RootElement.GetProperty("s").GetInt32());
        Assert.Equal(seen[2].Position, reader.Position);
    }

    [Fact]
    public async Task ConcurrentWritersOfOneStreamNeverShareAVersion()
    {
        var store = await CreateStoreAsync();
        const int Writers = 4;
        const int PerWriter = 10;

        var tasks = Enumerable.Range(0, Writers).Select(_ => Task.Run(async () =>
        {
            for (var i = 0; i < PerWriter; i++)
            {
                var e = Event();
                while (true)
                {
                    var version = await store.GetStreamVersionAsync("contended");
                    var result = await store.AppendAsync(Group(Append("contended", version, e)));
                    if (result.IsCommitted)
                    {
                        break;
                    }
                }
            }
        }));
        await Task.WhenAll(tasks).WaitAsync(Wait);

        var read = await store.ReadStreamAsync("contended", 1, 1000).AsTask().WaitAsync(Wait);
        Assert.Equal(Enumerable.Range(1, Writers * PerWriter).Select(v => (long)v), read.Select(e => e.Version));
        Assert.Equal(Writers * PerWriter, read.Select(e => e.EventId).Distinct().Count());
    }

    [Fact]
    public async Task EventsAndVersionsSurviveAReopen()
    {
        var store = await CreateStoreAsync();
        var events = Events(4);
        await store.AppendAsync(Group(Append("a", ExpectedVersions.Any, events[..2]), Append("b", ExpectedVersions.Any, events[2..]))).AsTask().WaitAsync(Wait);

        var reopened = await ReopenAsync(store);

        Assert.Equal(2, await reopened.GetStreamVersionAsync("a").AsTask().WaitAsync(Wait));
        Assert.Equal(events[2..].Select(e => e.EventId), (await reopened.ReadStreamAsync("b", 1, 10).AsTask().WaitAsync(Wait)).Select(e => e.EventId));
        var again = await reopened.AppendAsync(Group(Append("a", 2, Event()), Append("a", ExpectedVersions.Any, events[0]))).AsTask().WaitAsync(Wait);
        Assert.Equal(1, again.Appended);
        Assert.Equal(3, await reopened.GetStreamVersionAsync("a").AsTask().WaitAsync(Wait));
    }

    [Fact]
    public async Task TheLastPositionIsTheNewestCommittedEvent()
    {
        var store = await CreateStoreAsync();
        Assert.Equal(0, await store.GetLastPositionAsync().AsTask().WaitAsync(Wait));
        await store.AppendAsync(Group(Append("a", ExpectedVersions.Any, Events(3)), Append("b", ExpectedVersions.Any, Events(2)))).AsTask().WaitAsync(Wait);

        var read = await store.ReadStreamAsync("b", 1, 10).AsTask().WaitAsync(Wait);

        Assert.Equal(read[^1].Position, await store.GetLastPositionAsync().AsTask().WaitAsync(Wait));
    }

    [Fact]
    public async Task InitializingTwiceIsHarmless()
    {
        var store = await CreateStoreAsync();
        await store.AppendAsync(Group(Append("a", ExpectedVersions.Any, Events(1)))).AsTask().WaitAsync(Wait);

        await store.InitializeAsync().AsTask().WaitAsync(Wait);

        Assert.Equal(1, await store.GetStreamVersionAsync("a").AsTask().WaitAsync(Wait));
    }

    [Fact]
    public async Task RandomGroupsReadBackExactlyAsAppended()
    {
        var store = await CreateStoreAsync();
        var model = new Dictionary<string, List<Guid>>();
        var random = new Random(1234);
        for (var g = 0; g < 20; g++)
        {
            var group = new List<StreamAppend>();
            for (var s = 0; s < random.Next(1, 4); s++)
            {
                var stream = "r-" + random.Next(5);
                var events = Events(random.Next(1, 6));
                group.Add(Append(stream, ExpectedVersions.Any, events));
                model.TryAdd(stream, []);
                model[stream].AddRange(events.Select(e => e.EventId));
            }

            await store.AppendAsync(group).AsTask().WaitAsync(Wait);
        }

        foreach (var (stream, ids) in model)
        {
            var read = await store.ReadStreamAsync(stream, 1, 1000).AsTask().WaitAsync(Wait);
            Assert.Equal(ids, read.Select(e => e.EventId));
            Assert.Equal(ids.Count, await store.GetStreamVersionAsync(stream).AsTask().WaitAsync(Wait));

            // Global order agrees with stream order: a projection sees a stream's events by ascending version.
            Assert.Equal(read.Select(e => e.Position).Order(), read.Select(e => e.Position));
        }
    }
}
