using Microsoft.Extensions.Logging.Abstractions;
using SignalStream.Contracts;
using SignalStream.Engine.Events;
using SignalStream.EventStore;
using SignalStream.EventStore.File;
using SignalStream.Engine.Signals;
using SignalStream.EventStore.Tests.Marten;
using SignalStream.Testing;

namespace SignalStream.EventStore.Tests;

public sealed class EngineStateLoaderTests
{
    [Fact]
    public async Task EachSymbolsOutcomesAreRestoredBeforeItsSignalsSoTheStageOpensOnlyTheUnresolvedOnes()
    {
        // Signals first made the stage open every stored signal and close them one by one: quadratic in the history.
        var folder = TestStorage.NewTempFolder();
        await using var store = new FileEventStore(new FileJournalOptions { Path = folder }, TimeProvider.System, NullLogger<FileEventStore>.Instance);
        await store.InitializeAsync();
        foreach (var group in JournalHistory.Groups(signals: 300, seed: 6, symbols: ["BTCUSDT", "ETHUSDT"]))
        {
            await store.AppendAsync(group);
        }

        var calls = new Recorder();
        var streams = new[] { "BTCUSDT", "ETHUSDT" }.SelectMany(s => new[] { new StreamKey(s, Timeframe.OneMinute), new StreamKey(s, Timeframe.FiveMinutes) }).ToList();
        await new EngineStateLoader(store, calls, new CandleWatermarks(), streams, NullLogger<EngineStateLoader>.Instance)
            .StartAsync(CancellationToken.None).WaitAsync(TestEvents.Wait);

        foreach (var symbol in new[] { "BTCUSDT", "ETHUSDT" })
        {
            var mine = calls.Calls.Where(c => c.Symbol == symbol).ToList();
            var lastOutcome = mine.FindLastIndex(c => c.IsOutcome);
            var firstSignal = mine.FindIndex(c => !c.IsOutcome);
            Assert.True(lastOutcome >= 0 && firstSignal > lastOutcome, $"{symbol}: an outcome was restored after a signal");
        }

        Assert.True(calls.Completed);
    }

    [Fact]
    public async Task AStoredSignalMarksItsCandleDecidedThoughTheCandleItselfWasNeverStoredAndAnAlertsSignalMarksNothing()
    {
        // A crash between a signal's commit and its candle's: the store has candle 1 and the signal of candle 3.
        var folder = TestStorage.NewTempFolder();
        await using var store = new FileEventStore(new FileJournalOptions { Path = folder }, TimeProvider.System, NullLogger<FileEventStore>.Instance);
        await store.InitializeAsync();
        var btc = new StreamKey("BTCUSDT", Timeframe.OneMinute);
        var eth = new StreamKey("ETHUSDT", Timeframe.OneMinute);
        var candle1 = TestSignals.Candle("BTCUSDT", Timeframe.OneMinute, 1);
        var decided = TestSignals.Signal("BTCUSDT", 1) with { CandleOpenTime = TestSignals.BaseTime + (3 * 60_000) };
        decided = decided with { Id = SignalIds.ForCandle(TestSignals.Candle("BTCUSDT", Timeframe.OneMinute, 3).Candle) };
        // An alert's signal names the candle in progress when it came (5): that candle was not decided.
        var alert = TestSignals.Signal("ETHUSDT", 1) with { Id = "ETHUSDT-1m-tradingview-main-0b1c", CandleOpenTime = TestSignals.BaseTime + (5 * 60_000) };
        await store.AppendAsync(
        [
            Append(EventStreams.Candles(btc), EventStreams.CandlesType, new CandleClosed("simulated", candle1.Candle, CandleOrigin.Simulated, candle1.EventTime, candle1.ReceivedAt)),
            Append(EventStreams.Signals("BTCUSDT"), EventStreams.SignalsType, new SignalIssued(decided)),
            Append(EventStreams.Signals("ETHUSDT"), EventStreams.SignalsType, new SignalIssued(alert)),
        ]);

        var watermarks = new CandleWatermarks();
        await new EngineStateLoader(store, new Recorder(), watermarks, [btc, eth], NullLogger<EngineStateLoader>.Instance)
            .StartAsync(CancellationToken.None).WaitAsync(TestEvents.Wait);

        Assert.True(watermarks.Covers(btc, candle1.Candle.OpenTime));
        Assert.False(watermarks.Covers(btc, decided.CandleOpenTime), "the candle of the stored signal is not stored");
        Assert.True(watermarks.WasDecided(btc, decided.CandleOpenTime));
        Assert.False(watermarks.WasDecided(btc, decided.CandleOpenTime + 60_000));
        Assert.False(watermarks.WasDecided(eth, alert.CandleOpenTime));
    }

    private static StreamAppend Append(string stream, string type, ISignalStreamEvent e) =>
        new(stream, type, ExpectedVersions.Any, [EventSerializer.Serialize(e, Guid.CreateVersion7(), DateTimeOffset.UtcNow)]);

    private sealed class Recorder : ISignalStateRestore
    {
        public List<(string Symbol, bool IsOutcome)> Calls { get; } = [];

        public bool Completed { get; private set; }

        public void RestoreSignal(Signal signal, bool isShadow) => Calls.Add((signal.Symbol, false));

        public void RestoreOutcome(SignalOutcome outcome) => Calls.Add((outcome.Symbol, true));

        public void RestoreCompleted() => Completed = true;
    }
}
