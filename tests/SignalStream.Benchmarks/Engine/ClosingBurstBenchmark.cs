using System.Runtime.CompilerServices;
using BenchmarkDotNet.Attributes;
using Microsoft.Extensions.Logging.Abstractions;
using SignalStream.Contracts;
using SignalStream.Engine.Features;
using SignalStream.Engine.Inference.Internal;
using SignalStream.Engine.Inference.Onnx;
using SignalStream.Ingest.Simulated;

namespace SignalStream.Benchmarks.Engine;

/// <summary>
/// A candle-close burst: 2,000 streams (500 symbols x 4 timeframes) close at once. Each op updates every stream's
/// features with its new candle, queues its feature window (the model's window x features), and waits for all 2,000 predictions: through the
/// dynamic batcher at batch 512 (<see cref="Batched"/>) against one ONNX Run per stream (<see cref="OneRunPerStream"/>).
/// One intra-op thread. Divide time and allocation by 2,000 for the per-stream figures.
/// </summary>
[MemoryDiagnoser]
public class ClosingBurstBenchmark
{
    private const int Symbols = 500;
    private const int Rounds = 32;
    private static readonly Timeframe[] s_timeframes = [Timeframe.OneMinute, Timeframe.FiveMinutes, Timeframe.FifteenMinutes, Timeframe.OneHour];

    private StreamFeatureState[] _states = [];
    private Candle[][] _rounds = [];
    private int[] _featureIndices = [];
    private ModelBatcher _batched = null!;
    private ModelBatcher _unbatched = null!;
    private CountingSink _sink = null!;
    private readonly BenchMeterFactory _meters = new();
    private InferenceMetrics _batchedMetrics = null!;
    private float[] _scratch = [];
    private int _round;
    private int _window;
    private int _features;

    /// <summary>bench-mlp-row: the 16-64-3 MLP DESIGN.md measured, over the newest feature row (window 1);
    /// bench-mlp: the same MLP fed a 64 x 16 window it reads the last row of (so the window copy shows);
    /// bench-lstm: LSTM(32) over 64 x 16; lstm-direction and patchtst-direction: the bundled models from models/.</summary>
    [Params("bench-mlp-row", "bench-mlp", "bench-lstm", "lstm-direction", "patchtst-direction")]
    public string Model { get; set; } = "bench-mlp";

    /// <summary>100 and 500 were compared in BENCHMARKS.md; 500 is the default.</summary>
    [Params(500)]
    public int QueueDelayMicroseconds { get; set; }

    public static int Streams => Symbols * 4;

    [GlobalSetup]
    public void Setup()
    {
        var bytes = File.ReadAllBytes(ModelPath(Model));
        using (var probe = OnnxSession.Create(bytes, new OnnxSessionSettings(1)))
        {
            _window = (int)probe.Inputs[0].Shape[1];
            _features = (int)probe.Inputs[0].Shape[2];
        }

        var symbols = Enumerable.Range(0, Symbols).Select(i => $"S{i:D3}USDT").ToArray();
        var warm = FeatureCatalog.WarmupCandles + _window + 8;
        var candles = MarketSimulator.GenerateClosed(symbols, s_timeframes, warm + Rounds).GroupBy(c => c.Stream).ToArray();
        _states = new StreamFeatureState[candles.Length];
        _rounds = Enumerable.Range(0, Rounds).Select(_ => new Candle[candles.Length]).ToArray();
        for (var s = 0; s < candles.Length; s++)
        {
            var series = candles[s].ToArray();
            _states[s] = new StreamFeatureState(_window);
            for (var i = 0; i < warm; i++)
            {
                _states[s].Update(series[i]);
            }

            for (var r = 0; r < Rounds; r++)
            {
                _rounds[r][s] = series[warm + r];
            }
        }

        _featureIndices = Enumerable.Range(0, _features).ToArray();
        _batchedMetrics = new InferenceMetrics(_meters);
        var metrics = new InferenceMetrics(_meters);
        _scratch = new float[_window * _features];
        var delay = TimeSpan.FromTicks(QueueDelayMicroseconds * TimeSpan.TicksPerMicrosecond);
        _batched = new ModelBatcher(OnnxSession.Create(bytes, new OnnxSessionSettings(1)), Model, _window, _features, 512, delay,
            2 * Streams, TimeProvider.System, _batchedMetrics, NullLogger.Instance, static _ => { });
        _unbatched = new ModelBatcher(OnnxSession.Create(bytes, new OnnxSessionSettings(1)), Model, _window, _features, 1, delay,
            2 * Streams, TimeProvider.System, metrics, NullLogger.Instance, static _ => { });
        _sink = new CountingSink();
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _batched.Stop();
        _unbatched.Stop();
        Task.WaitAll(_batched.Completion, _unbatched.Completion);
        if (_batchedMetrics.Batches > 0)
        {
            // How the queue delay split the bursts: 2,000 / 512 gives 3.9 batches per burst when no batch is cut short.
            Console.WriteLine($"// {Model}, delay {QueueDelayMicroseconds} us: batched path ran {_batchedMetrics.Batches} batches, " +
                              $"mean {(double)_batchedMetrics.BatchedRows / _batchedMetrics.Batches:F1} rows");
        }

        _meters.Dispose();
    }

    /// <summary>The feature half alone: update every stream and copy its window into a scratch row (no inference).</summary>
    [Benchmark]
    public float FeaturesOnly()
    {
        var candles = _rounds[_round];
        _round = (_round + 1) % Rounds;
        var sum = 0f;
        for (var s = 0; s < _states.Length; s++)
        {
            _states[s].Update(candles[s]);
            _states[s].CopyWindow(_featureIndices, _window, _scratch);
            sum += _scratch[0];
        }

        return sum;
    }

    [Benchmark(Baseline = true)]
    public int OneRunPerStream() => Burst(_unbatched);

    [Benchmark]
    public int Batched() => Burst(_batched);

    private int Burst(ModelBatcher batcher)
    {
        var candles = _rounds[_round];
        _round = (_round + 1) % Rounds;
        _sink.Expect(_states.Length);
        for (var s = 0; s < _states.Length; s++)
        {
            var state = _states[s];
            state.Update(candles[s]);
            var writer = new WindowWriter(state, _featureIndices, _window);

            // The queue holds two bursts; a full one only happens while the previous burst's last buffers are being
            // recycled, and spinning (not an async wait) keeps the op free of allocations of its own.
            var spinner = default(SpinWait);
            while (!batcher.TryEnqueue(ref writer, _sink, s))
            {
                spinner.SpinOnce(sleep1Threshold: -1);
            }
        }

        // The burst is all queued: what the pipeline does when the ingest channel is drained.
        batcher.Flush();
        _sink.Wait();
        return _sink.Checksum;
    }

    /// <summary>A test fixture, or a bundled model (its manifest names the file).</summary>
    private static string ModelPath(string model, [CallerFilePath] string source = "")
    {
        var root = Path.GetFullPath(Path.Combine(Path.GetDirectoryName(source)!, "../../.."));
        var fixture = Path.Combine(root, "tests/SignalStream.Engine.Tests/Inference/Fixtures", model + ".onnx");
        if (File.Exists(fixture))
        {
            return fixture;
        }

        using var manifest = System.Text.Json.JsonDocument.Parse(File.ReadAllBytes(Path.Combine(root, "models", model + ".manifest.json")));
        return Path.Combine(root, "models", manifest.RootElement.GetProperty("file").GetString()!);
    }

    private readonly struct WindowWriter(StreamFeatureState state, int[] indices, int window) : IBatchRowWriter
    {
        public void Write(Span<float> row) => state.CopyWindow(indices, window, row);
    }

    private sealed class CountingSink : IPredictionSink
    {
        private readonly ManualResetEventSlim _done = new(false);
        private int _remaining;

        public int Checksum { get; private set; }

        public void Expect(int count)
        {
            _done.Reset();
            Volatile.Write(ref _remaining, count);
        }

        public void Wait() => _done.Wait();

        public void OnPrediction(int slot, float down, float flat, float up)
        {
            if (up > down)
            {
                Checksum++;
            }

            if (Interlocked.Decrement(ref _remaining) == 0)
            {
                _done.Set();
            }
        }

        public void OnFailed(int slot) => throw new InvalidOperationException("A benchmark batch failed.");
    }
}
