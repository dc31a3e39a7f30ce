using System.Text.Json.Nodes;
using SignalStream.Contracts;
using SignalStream.Engine.Inference;
using SignalStream.Engine.Features;
using SignalStream.Engine.Inference.Onnx;
using SignalStream.Engine.Tests.Inference;
using SignalStream.Ingest.Simulated;

namespace SignalStream.Engine.Tests.Pipeline;

/// <summary>
/// A recurrent model served by the engine, checked against its definition: the prediction at bar k is the model run
/// from a zero state over the stream's warm rows with bar in [32·(⌊k/32⌋ − 1), k] (one run of the LSTM-operator graph
/// here), whatever the engine did to get there: stepping, rebuilding after warm-up history, holes, bursts of one stream.
/// </summary>
public sealed class RecurrentModelPipelineTests : IDisposable
{
    private const int Chain = 32;
    private const int Width = 64;
    private const float Tolerance = 2e-5f;
    private static readonly TimeSpan s_timeout = TimeSpan.FromSeconds(60);
    private readonly ModelFolder _models = new();
    private readonly OnnxSession _reference = OnnxSession.Create(Fixtures.Bytes(ModelFolder.RecurrentReference + ".onnx"), new OnnxSessionSettings(1));

    public RecurrentModelPipelineTests() =>
        _models.Add("lstm-direction", ModelFolder.RecurrentFixture, ["1m", "5m"], edit: ModelFolder.Recurrent);

    public void Dispose()
    {
        _reference.Dispose();
        _models.Dispose();
    }

    [Fact]
    public async Task EveryPredictionIsTheModelRunFromZeroOverItsOldChainAfterHistoryHolesAndBursts()
    {
        var candles = MarketSimulator.GenerateClosed(["BTCUSDT", "ETHUSDT", "SOLUSDT", "XRPUSDT"], [Timeframe.FiveMinutes], 420).ToList();
        var n = new Dictionary<StreamKey, int>();
        var numbered = candles.Select(c => (Candle: c, Index: n[c.Stream] = n.GetValueOrDefault(c.Stream) + 1)).ToList();

        // Holes the exchange left: ETH one bar and then 33 (a whole chain period), SOL 71 bars (more than two periods).
        numbered.RemoveAll(x => x.Candle.Symbol == "ETHUSDT" && (x.Index == 200 || x.Index is >= 260 and < 293));
        numbered.RemoveAll(x => x.Candle.Symbol == "SOLUSDT" && x.Index is >= 230 and < 301);

        // BTC's candles 300-340 come as one backfill burst before anything else after them: consecutive rows of one stream.
        var burst = numbered.Where(x => x.Candle.Symbol == "BTCUSDT" && x.Index is >= 300 and <= 340).ToList();
        numbered.RemoveAll(burst.Contains);
        numbered.InsertRange(numbered.FindIndex(x => x.Candle.Symbol == "BTCUSDT" && x.Index == 341), burst);

        await using var harness = new PipelineHarness(_models);
        await harness.StartAsync();
        foreach (var (candle, index) in numbered)
        {
            // XRP has no history: its first chains start at its first warm row and its first predictions wait for a whole one.
            var origin = index <= 150 && candle.Symbol != "XRPUSDT" ? CandleOrigin.History
                : candle.Symbol == "BTCUSDT" && index is >= 300 and <= 340 ? CandleOrigin.Backfill
                : CandleOrigin.Live;
            await harness.Channel.WriteClosedAsync(new CandleUpdate("simulated", candle, true, candle.CloseTime, candle.CloseTime, origin));
        }

        await harness.DrainAndStopAsync(s_timeout);

        var results = harness.Signals.Snapshot();
        Assert.Equal(numbered.Count, results.Length);
        var (predicted, lost) = CheckAgainstTheDefinition(results, Chain, Expected);

        // Every live candle of the streams with history, and XRP's once it has a whole chain.
        Assert.Empty(lost);
        Assert.True(predicted > 900, $"{predicted} predictions checked");
        Assert.Contains(results, r => r.Update.Candle.Symbol == "XRPUSDT" && r.Predictions.Count > 0);
    }

    [Fact]
    public async Task AfterWarmUpHistoryTheChainsAreRebuiltWhileTheReaderIsIdleSoTheFirstLiveCandlesOnlyStep()
    {
        var candles = MarketSimulator.GenerateClosed(["BTCUSDT", "ETHUSDT"], [Timeframe.OneMinute, Timeframe.FiveMinutes], 220).ToList();
        var n = new Dictionary<StreamKey, int>();
        var updates = candles.Select(c => new CandleUpdate("simulated", c, true, c.CloseTime, c.CloseTime,
            (n[c.Stream] = n.GetValueOrDefault(c.Stream) + 1) <= 160 ? CandleOrigin.History : CandleOrigin.Live))
            .OrderBy(u => u.Origin == CandleOrigin.Live).ToList(); // every stream's history first, as a start loads it
        var history = updates.Count(u => u.Origin == CandleOrigin.History);
        await using var harness = new PipelineHarness(_models);
        foreach (var update in updates.Take(history))
        {
            await harness.Channel.WriteClosedAsync(update);
        }

        // Queued before the start, so the reader is idle once, after all of it. No live candle yet: the four streams'
        // chains are rebuilt as soon as the history is processed.
        await harness.StartAsync();
        await WaitForRebuildsAsync(harness, 4);
        foreach (var update in updates.Skip(history))
        {
            await harness.Channel.WriteClosedAsync(update);
        }

        await harness.DrainAndStopAsync(s_timeout);

        var (predicted, lost) = CheckAgainstTheDefinition(harness.Signals.Snapshot(), Chain, Expected);
        Assert.Empty(lost);
        Assert.Equal(updates.Count - history, predicted);
        Assert.Equal(4, harness.Metrics.ChainRebuilds);
    }

    [Fact]
    public async Task AReloadedVersionRebuildsEveryStreamsChainsWhileTheReaderIsIdleAndPredictsWithoutAGap()
    {
        var candles = MarketSimulator.GenerateClosed(["BTCUSDT", "ETHUSDT"], [Timeframe.OneMinute, Timeframe.FiveMinutes], 260).ToList();
        var n = new Dictionary<StreamKey, int>();
        var updates = candles.Select(c => new CandleUpdate("simulated", c, true, c.CloseTime, c.CloseTime,
            (n[c.Stream] = n.GetValueOrDefault(c.Stream) + 1) <= 150 ? CandleOrigin.History : CandleOrigin.Live)).ToList();
        var half = updates.Count - 160;
        await using var harness = new PipelineHarness(_models);
        await harness.StartAsync();
        foreach (var update in updates.Take(half))
        {
            await harness.Channel.WriteClosedAsync(update);
        }

        await harness.Signals.WhenAsync(r => r.Count == half).WaitAsync(s_timeout);
        _models.Add("lstm-direction", ModelFolder.RecurrentFixture, ["1m", "5m"], version: "2.0.0", edit: ModelFolder.Recurrent);
        harness.Registry.Reload();
        Assert.Equal("2.0.0", Assert.Single(harness.Registry.Current.Models).Version);

        // An in-progress update wakes the idle reader (Binance sends one every few seconds a stream): it rebuilds the
        // four streams' chains in the new version then, before their next close.
        var rebuilt = harness.Metrics.ChainRebuilds;
        var last = updates[half - 1];
        harness.Channel.WriteProgress(last with { IsClosed = false, Candle = last.Candle with { OpenTime = last.Candle.Timeframe.NextOpenTime(last.Candle.OpenTime) } });
        await WaitForRebuildsAsync(harness, rebuilt + 4);
        foreach (var update in updates.Skip(half))
        {
            await harness.Channel.WriteClosedAsync(update);
        }

        await harness.DrainAndStopAsync(s_timeout);

        var results = harness.Signals.Snapshot();
        var (predicted, lost) = CheckAgainstTheDefinition(results, Chain, Expected);
        Assert.Empty(lost);
        Assert.Equal(rebuilt + 4, harness.Metrics.ChainRebuilds);
        Assert.Equal(results.Skip(half).Count(r => r.Predictions.Count > 0), results.Skip(half).Count(r => r.Predictions.Any(p => p.Version == "2.0.0")));
        Assert.True(results.Skip(half).Count(r => r.Predictions.Count > 0) > 100, $"{predicted} predictions checked");
    }

    [Fact]
    public async Task AStreamWhoseBatchFailedIsRebuiltFromItsRowsAndThenPredictsAsIfNothingHadFailed()
    {
        // recurrent-sum: each chain sums its rows' first feature (ret_1) and counts them; a run with a ret_1 above 5
        // fails in ONNX Runtime. One stream's candle jumps 1000x (ret_1 6.9): its batch fails, and so does every
        // rebuild whose rows still hold it; after that, the chains are rebuilt from the rows and predict as defined.
        const int chain = 8;
        using var models = new ModelFolder();
        models.Add("sum", "recurrent-sum", ["1m"], edit: (m, _) =>
            m["recurrent"] = new JsonObject { ["chain"] = chain, ["stateWidth"] = 4, ["stateInput"] = "state", ["stateOutput"] = "state_out" });
        var candles = MarketSimulator.GenerateClosed(["BTCUSDT"], [Timeframe.OneMinute], 270).ToList();
        const int spike = 190;
        candles[spike] = candles[spike] with { Close = candles[spike].Close * 1000, High = candles[spike].Close * 1000 };
        var spikeBar = Timeframe.OneMinute.BarIndex(candles[spike].OpenTime);
        await using var harness = new PipelineHarness(models);
        await harness.StartAsync();
        for (var i = 0; i < candles.Count; i++)
        {
            var c = candles[i];
            await harness.Channel.WriteClosedAsync(new CandleUpdate("simulated", c, true, c.CloseTime, c.CloseTime, i < 150 ? CandleOrigin.History : CandleOrigin.Live));
        }

        await harness.DrainAndStopAsync(s_timeout);

        var (predicted, lost) = CheckAgainstTheDefinition(harness.Signals.Snapshot(), chain, SumOf);
        Assert.Contains(spikeBar, lost);

        // The last rebuild whose rows hold the spike is at most 2L bars after it. The rows the reader had queued behind
        // that rebuild when it failed (one a batch in this burst of one stream: up to the model's batch buffers but the
        // one running, ModelBatcher) have no state to step from and are lost too; the reader's next row rebuilds.
        var buffers = Math.Max(harness.Options.QueueCapacity / harness.Options.MaxBatchSize, harness.Options.WorkersPerLiveModel + 1);
        Assert.All(lost, bar => Assert.InRange(bar, spikeBar, spikeBar + (2 * chain) + buffers - 1));
        Assert.True(predicted > 50, $"{predicted} predictions checked");
    }

    /// <summary>Waits until <paramref name="count"/> streams' chains have been rebuilt in all, then checks no more were.</summary>
    private static async Task WaitForRebuildsAsync(PipelineHarness harness, long count)
    {
        var deadline = DateTime.UtcNow + s_timeout;
        while (harness.Metrics.ChainRebuilds < count && DateTime.UtcNow < deadline)
        {
            await Task.Delay(10);
        }

        Assert.Equal(count, harness.Metrics.ChainRebuilds);
    }

    /// <summary>
    /// Checks every result against what a recurrent model's prediction is defined as: none for history or before the
    /// stream has a whole old chain, otherwise <paramref name="expected"/> over the old chain's rows. Returns how many
    /// predictions matched, and the bars of the rows that should have had one and did not.
    /// </summary>
    private static (int Predicted, List<long> Lost) CheckAgainstTheDefinition(IEnumerable<ClosedCandleResult> results, int chain, Func<float[][], float[]> expected)
    {
        var predicted = 0;
        var lost = new List<long>();
        foreach (var stream in results.GroupBy(r => r.Update.Candle.Stream))
        {
            var rows = new ReferenceRows();
            foreach (var result in stream)
            {
                rows.Add(result.Update.Candle);
                var bar = result.Update.Candle.Timeframe.BarIndex(result.Update.Candle.OpenTime);
                var anchor = ((bar / chain) - 1) * chain;
                var complete = rows.FirstWarmBar != StreamFeatureState.NoBar && rows.FirstWarmBar <= anchor;
                if (result.Update.Origin == CandleOrigin.History || !complete)
                {
                    Assert.Empty(result.Predictions);
                    continue;
                }

                if (result.Predictions.Count == 0)
                {
                    lost.Add(bar);
                    continue;
                }

                var prediction = Assert.Single(result.Predictions);
                var want = expected(rows.Since(anchor));
                var actual = new[] { prediction.Down, prediction.Flat, prediction.Up };
                for (var i = 0; i < 3; i++)
                {
                    Assert.True(Math.Abs(want[i] - actual[i]) <= Tolerance,
                        $"{stream.Key} bar {bar} ({result.Update.Origin}): class {i} expected {want[i]}, got {actual[i]}");
                }

                predicted++;
            }
        }

        return (predicted, lost);
    }

    /// <summary>recurrent-sum's definition: softmax of the old chain's sum of ret_1, its row count / 100, and 0.</summary>
    private static float[] SumOf(float[][] rows)
    {
        var logits = new[] { rows.Sum(r => r[0]), rows.Length * 0.01f, 0f };
        var most = logits.Max();
        var e = logits.Select(l => MathF.Exp(l - most)).ToArray();
        return e.Select(v => v / e.Sum()).ToArray();
    }

    private float[] Expected(float[][] rows)
    {
        var features = rows.SelectMany(r => r).ToArray();
        return RecurrentGraph.Run(_reference, features, new float[Width], 1, rows.Length, 22, Width).Probabilities;
    }

    /// <summary>A stream's warm feature rows and their bars, computed apart from the engine.</summary>
    private sealed class ReferenceRows
    {
        private static readonly int[] s_all = Enumerable.Range(0, FeatureCatalog.Count).ToArray();
        private readonly StreamFeatureState _state = new(1);
        private readonly List<(long Bar, float[] Row)> _rows = [];

        public long FirstWarmBar => _state.FirstWarmBar;

        public void Add(Candle candle)
        {
            _state.Update(candle);
            if (_state.IsWarm)
            {
                var row = new float[FeatureCatalog.Count];
                _state.CopyWindow(s_all, 1, row);
                _rows.Add((candle.Timeframe.BarIndex(candle.OpenTime), row));
            }
        }

        public float[][] Since(long bar) => _rows.Where(r => r.Bar >= bar).Select(r => r.Row).ToArray();
    }
}
