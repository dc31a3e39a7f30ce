using SignalStream.Contracts;
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
        var predicted = 0;
        foreach (var stream in results.GroupBy(r => r.Update.Candle.Stream))
        {
            var rows = new ReferenceRows();
            foreach (var result in stream)
            {
                rows.Add(result.Update.Candle);
                var bar = result.Update.Candle.Timeframe.BarIndex(result.Update.Candle.OpenTime);
                var complete = rows.FirstWarmBar != StreamFeatureState.NoBar && rows.FirstWarmBar <= ((bar / Chain) - 1) * Chain;
                if (result.Update.Origin == CandleOrigin.History || !complete)
                {
                    Assert.Empty(result.Predictions);
                    continue;
                }

                var prediction = Assert.Single(result.Predictions);
                var expected = Expected(rows.Since(((bar / Chain) - 1) * Chain));
                var actual = new[] { prediction.Down, prediction.Flat, prediction.Up };
                for (var i = 0; i < 3; i++)
                {
                    Assert.True(Math.Abs(expected[i] - actual[i]) <= Tolerance,
                        $"{stream.Key} bar {bar} ({result.Update.Origin}): class {i} expected {expected[i]}, got {actual[i]}");
                }

                predicted++;
            }
        }

        // Every live candle of the streams with history, and XRP's once it has a whole chain.
        Assert.True(predicted > 900, $"{predicted} predictions checked");
        Assert.Contains(results, r => r.Update.Candle.Symbol == "XRPUSDT" && r.Predictions.Count > 0);
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
