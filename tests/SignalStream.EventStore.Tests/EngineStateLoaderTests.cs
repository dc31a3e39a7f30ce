using Microsoft.Extensions.Logging.Abstractions;
using SignalStream.Contracts;
using SignalStream.Engine.Events;
using SignalStream.EventStore;
using SignalStream.EventStore.File;
using SignalStream.Engine.Signals;
using SignalStream.EventStore.Tests.Marten;

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

    private sealed class Recorder : ISignalStateRestore
    {
        public List<(string Symbol, bool IsOutcome)> Calls { get; } = [];

        public bool Completed { get; private set; }

        public void RestoreSignal(Signal signal, bool isShadow) => Calls.Add((signal.Symbol, false));

        public void RestoreOutcome(SignalOutcome outcome) => Calls.Add((outcome.Symbol, true));

        public void RestoreCompleted() => Completed = true;
    }
}
