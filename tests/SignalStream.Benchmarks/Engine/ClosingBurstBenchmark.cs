using System.Diagnostics.Metrics;
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
/// features with its new candle, queues its 64x16 feature window, and waits for all 2,000 predictions: through the
/// dynamic batcher at batch 512 (<see cref="Batched"/>) against one ONNX Run per stream (<see cref="OneRunPerStream"/>).
/// One intra-op thread. Divide time and allocation by 2,000 for the per-stream figures.
/// </summary>
[MemoryDiagnoser]
public class ClosingBurstBenchmark
{
    private const int Symbols = 500;
    private const int Window = 64;
    private const int Features = 16;
    private const int Rounds = 32;
    private static readonly Timeframe[] s_timeframes = [Timeframe.OneMinute, Timeframe.FiveMinutes, Timeframe.FifteenMinutes, Timeframe.OneHour];

    private StreamFeatureState[] _states = [];
    private Candle[][] _rounds = [];
    private int[] _featureIndices = [];
    private ModelBatcher _batched = null!;
    private ModelBatcher _unbatched = null!;
    private CountingSink _sink = null!;
    private readonly List<Meter> _meters = [];
    private InferenceMetrics _batchedMetrics = null!;
    private float[] _scratch = [];
    private int _round;

    /// <summary>bench-mlp: the 16-64-3 MLP DESIGN.md measured (reads the last row); bench-lstm: LSTM(32) over all 64 rows.</summary>
    [Params("bench-mlp", "bench-lstm")]
    public string Model { get; set; } = "bench-mlp";

    [Params(100, 500)]
    public int QueueDelayMicroseconds { get; set; }

    public static int Streams => Symbols * 4;

    [GlobalSetup]
    public void Setup()
    {
        var symbols = Enumerable.Range(0, Symbols).Select(i => $"S{i:D3}USDT").ToArray();
        var warm = FeatureCatalog.WarmupCandles + Window + 8;
        var candles = MarketSimulator.GenerateClosed(symbols, s_timeframes, warm + Rounds).GroupBy(c => c.Stream).ToArray();
        _states = new StreamFeatureState[candles.Length];
        _rounds = Enumerable.Range(0, Rounds).Select(_ => new Candle[candles.Length]).ToArray();
        for (var s = 0; s < candles.Length; s++)
        {
            var series = candles[s].ToArray();
            _states[s] = new StreamFeatureState(Window);
            for (var i = 0; i < warm; i++)
            {
                _states[s].Update(series[i]);
            }

            for (var r = 0; r < Rounds; r++)
            {
                _rounds[r][s] = series[warm + r];
            }
        }

        _featureIndices = Enumerable.Range(0, Features).ToArray();
        var factory = new BenchMeterFactory(_meters);
        _batchedMetrics = new InferenceMetrics(factory);
        var metrics = new InferenceMetrics(factory);
        _scratch = new float[Window * Features];
        var bytes = File.ReadAllBytes(FixturePath(Model + ".onnx"));
        var delay = TimeSpan.FromTicks(QueueDelayMicroseconds * TimeSpan.TicksPerMicrosecond);
        _batched = new ModelBatcher(OnnxSession.Create(bytes, new OnnxSessionSettings(1)), Model, Window, Features, 512, delay,
            2 * Streams, TimeProvider.System, _batchedMetrics, NullLogger.Instance, static _ => { });
        _unbatched = new ModelBatcher(OnnxSession.Create(bytes, new OnnxSessionSettings(1)), Model, Window, Features, 1, delay,
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

        foreach (var meter in _meters)
        {
            meter.Dispose();
        }
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
            _states[s].CopyWindow(_featureIndices, Window, _scratch);
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
            var writer = new WindowWriter(state, _featureIndices);

            // The queue holds two bursts; a full one only happens while the previous burst's last buffers are being
            // recycled, and spinning (not an async wait) keeps the op free of allocations of its own.
            var spinner = default(SpinWait);
            while (!batcher.TryEnqueue(ref writer, _sink, s))
            {
                spinner.SpinOnce(sleep1Threshold: -1);
            }
        }

        _sink.Wait();
        return _sink.Checksum;
    }

    private static string FixturePath(string file, [CallerFilePath] string source = "") =>
        Path.GetFullPath(Path.Combine(Path.GetDirectoryName(source)!, "../../SignalStream.Engine.Tests/Inference/Fixtures", file));

    private readonly struct WindowWriter(StreamFeatureState state, int[] indices) : IBatchRowWriter
    {
        public void Write(Span<float> row) => state.CopyWindow(indices, Window, row);
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

    private sealed class BenchMeterFactory(List<Meter> meters) : IMeterFactory
    {
        public Meter Create(MeterOptions options)
        {
            var meter = new Meter(options);
            meters.Add(meter);
            return meter;
        }

        public void Dispose()
        {
        }
    }
}
