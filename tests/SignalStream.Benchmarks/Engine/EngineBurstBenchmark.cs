using System.Diagnostics;
using System.Runtime.CompilerServices;
using BenchmarkDotNet.Attributes;
using Microsoft.Extensions.Logging.Abstractions;
using SignalStream.Contracts;
using SignalStream.Engine;
using SignalStream.Engine.Features;
using SignalStream.Engine.Inference;
using SignalStream.Engine.Inference.Internal;
using SignalStream.Engine.Pipeline;
using SignalStream.Engine.Tracing;
using SignalStream.Ingest;
using SignalStream.Ingest.Simulated;

namespace SignalStream.Benchmarks.Engine;

/// <summary>
/// The closing burst through the real <see cref="EnginePipeline"/> with every bundled model from <c>models/</c>
/// (the two active models and the shadow one, as a default node serves them): 2,000 streams (500 symbols x 4
/// timeframes) close at once in the candle channel; one op ends when the pipeline has emitted all 2,000 closed
/// candles with their predictions, in order per stream. This is the engine's share of the load harness's closing
/// bell; <see cref="ClosingBurstBenchmark"/> isolates features, batching and one model. The cleanup line also reports
/// when, within a burst, the last candle had its live models' predictions: when its signal is decided (the signal stage is
/// a counter here, so the figure is the engine's alone).
/// </summary>
/// <remarks>
/// Before/after comparisons run in one process, back to back: <c>SIGNALSTREAM_BENCH_MODELS=before=/tmp/old-models</c>
/// adds a <see cref="Models"/> value served from that folder beside the bundled <c>models/</c> (a comma-separated list
/// of <c>name=folder</c>), <c>SIGNALSTREAM_BENCH_INTRAOP=1,2</c> runs each with those <c>Inference:IntraOpThreads</c>,
/// <c>SIGNALSTREAM_BENCH_WORKERS=1,2</c> with those <c>Inference:WorkersPerLiveModel</c>, <c>SIGNALSTREAM_BENCH_BATCH=128,512</c> with
/// those <c>Inference:MaxBatchSize</c>, and
/// <c>SIGNALSTREAM_BENCH_TRACED=false</c> leaves out the traced runs. The cleanup line reports CPU per burst.
/// </remarks>
[MemoryDiagnoser]
public class EngineBurstBenchmark
{
    private const int Symbols = 500;
    private const int Rounds = 64;
    private static readonly Timeframe[] s_timeframes = [Timeframe.OneMinute, Timeframe.FiveMinutes, Timeframe.FifteenMinutes, Timeframe.OneHour];

    private readonly BenchMeterFactory _meters = new();
    private CandleUpdateChannel _channel = null!;
    private ModelRegistry _registry = null!;
    private EnginePipeline _pipeline = null!;
    private CountingOutput _output = null!;
    private LiveDecisionClock _decisions = null!;
    private double _liveDecidedMs;
    private InferenceMetrics _metrics = null!;
    private Candle[][] _rounds = [];
    private int _round;
    private long _shift;

    private ActivityListener? _tracer;
    private TimeSpan _cpu;
    private long _bursts;

    public static int Streams => Symbols * s_timeframes.Length;

    /// <summary>
    /// Whether a tracer records the candles' spans (what <c>Tracing:OtlpEndpoint</c> turns on), to show what tracing costs
    /// on and that it costs nothing off.
    /// </summary>
    [ParamsSource(nameof(TracedValues))]
    public bool Traced { get; set; }

    /// <summary>Which model folder serves: <c>bundled</c> (this tree's <c>models/</c>) or a name from <c>SIGNALSTREAM_BENCH_MODELS</c>.</summary>
    [ParamsSource(nameof(ModelFolders))]
    public string Models { get; set; } = "bundled";

    /// <summary><c>Inference:IntraOpThreads</c> (from <c>SIGNALSTREAM_BENCH_INTRAOP</c>; 1, the default, otherwise).</summary>
    [ParamsSource(nameof(IntraOpThreadCounts))]
    public int IntraOpThreads { get; set; } = 1;

    /// <summary>Off and on, unless <c>SIGNALSTREAM_BENCH_TRACED</c> names one (<c>false</c> or <c>true</c>).</summary>
    public static IEnumerable<bool> TracedValues() =>
        Environment.GetEnvironmentVariable("SIGNALSTREAM_BENCH_TRACED") is { Length: > 0 } value ? [bool.Parse(value)] : [false, true];

    /// <summary><c>Inference:MaxQueueDelayMicroseconds</c> (from <c>SIGNALSTREAM_BENCH_DELAY</c>; the default 500 otherwise).</summary>
    [ParamsSource(nameof(QueueDelays))]
    public int QueueDelayMicroseconds { get; set; } = 500;

    public static IEnumerable<int> QueueDelays() => IntegersFrom("SIGNALSTREAM_BENCH_DELAY", 500);

    public static IEnumerable<string> ModelFolders() =>
        ["bundled", .. ExtraFolders().Select(f => f.Name)];

    public static IEnumerable<int> IntraOpThreadCounts() => IntegersFrom("SIGNALSTREAM_BENCH_INTRAOP", 1);

    /// <summary><c>Inference:WorkersPerLiveModel</c> (from <c>SIGNALSTREAM_BENCH_WORKERS</c>; the default 1 otherwise).</summary>
    [ParamsSource(nameof(WorkerCounts))]
    public int WorkersPerLiveModel { get; set; } = 1;

    public static IEnumerable<int> WorkerCounts() => IntegersFrom("SIGNALSTREAM_BENCH_WORKERS", 1);

    /// <summary><c>Inference:MaxBatchSize</c> (from <c>SIGNALSTREAM_BENCH_BATCH</c>; the default otherwise).</summary>
    [ParamsSource(nameof(BatchSizes))]
    public int MaxBatchSize { get; set; } = new InferenceOptions().MaxBatchSize;

    public static IEnumerable<int> BatchSizes() => IntegersFrom("SIGNALSTREAM_BENCH_BATCH", new InferenceOptions().MaxBatchSize);

    [GlobalSetup]
    public void Setup()
    {
        if (Traced)
        {
            _tracer = new ActivityListener
            {
                ShouldListenTo = source => source.Name == SignalStreamTracing.SourceName,
                Sample = static (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            };
            ActivitySource.AddActivityListener(_tracer);
        }

        var folder = Models == "bundled" ? ModelsFolder() : ExtraFolders().Single(f => f.Name == Models).Path;
        var options = new InferenceOptions
        {
            ModelsPath = folder, SummarySeconds = 0, IntraOpThreads = IntraOpThreads,
            MaxQueueDelayMicroseconds = QueueDelayMicroseconds, WorkersPerLiveModel = WorkersPerLiveModel, MaxBatchSize = MaxBatchSize,
        };
        var time = TimeProvider.System;
        _metrics = new InferenceMetrics(_meters);
        var loader = new ModelLoader(options, time, _metrics, NullLoggerFactory.Instance);
        _registry = new ModelRegistry(options, options.ModelsPath, loader, _metrics, time, NullLogger<ModelRegistry>.Instance);
        _registry.StartAsync(CancellationToken.None).GetAwaiter().GetResult();
        var window = _registry.Current.MaxWindow;

        _channel = new CandleUpdateChannel(4 * Streams);
        _output = new CountingOutput();
        _decisions = new LiveDecisionClock();
        _pipeline = new EnginePipeline(new ChannelReader(_channel), _decisions, _registry, new EngineOutputs(store: null, [_output]), _metrics, options, time,
            NullLogger<EnginePipeline>.Instance);
        _pipeline.StartAsync(CancellationToken.None).GetAwaiter().GetResult();

        // Warm every stream with history (features only, no inference), then keep the next candles for the bursts.
        var symbols = Enumerable.Range(0, Symbols).Select(i => $"E{i:D3}USDT").ToArray();
        var warm = FeatureCatalog.WarmupCandles + window + 8;
        var series = MarketSimulator.GenerateClosed(symbols, s_timeframes, warm + Rounds).GroupBy(c => c.Stream)
            .Select(g => g.ToArray()).ToArray();
        _output.Expect(series.Length * warm);
        for (var i = 0; i < warm; i++)
        {
            foreach (var stream in series)
            {
                Write(stream[i], CandleOrigin.History);
            }
        }

        _output.Wait();

        // Recurrent models rebuild every stream's chains once the history is in (the reader's idle time): let that
        // finish, so the first burst measures stepping like the others (a node has seconds between them).
        var rebuilds = series.Length * (long)_registry.Current.Models.Count(m => m.Recurrence is not null);
        var deadline = Stopwatch.GetTimestamp() + Stopwatch.Frequency * 60;
        while (_metrics.ChainRebuilds < rebuilds && Stopwatch.GetTimestamp() < deadline)
        {
            Thread.Sleep(10);
        }

        Thread.Sleep(500); // the last rebuilding batch runs after it is counted
        _rounds = Enumerable.Range(0, Rounds).Select(r => series.Select(s => s[warm + r]).ToArray()).ToArray();
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        // CPU per burst (every thread of the process: reader, model workers, emitter) is what a shared machine's load
        // changes least; a burst on two cores cannot take less than half of it.
        Console.WriteLine($"// {Models}, {IntraOpThreads} intra-op, {WorkersPerLiveModel} workers a live model, delay {QueueDelayMicroseconds} us, traced {Traced}: {_registry.Current.Models.Length} models; {_metrics.Batches} batches, mean " +
                          $"{(double)_metrics.BatchedRows / Math.Max(1, _metrics.Batches):F1} rows; {_metrics.Predictions} predictions; " +
                          $"CPU {_cpu.TotalMilliseconds / Math.Max(1, _bursts):F2} ms a burst over {_bursts} bursts; " +
                          $"every live decision made {_liveDecidedMs / Math.Max(1, _bursts):F2} ms into a burst (mean)");
        _channel.Complete();
        _pipeline.ExecuteTask!.GetAwaiter().GetResult();
        _pipeline.StopAsync(CancellationToken.None).GetAwaiter().GetResult();
        _registry.StopAsync(CancellationToken.None).GetAwaiter().GetResult();
        _pipeline.Dispose();
        _tracer?.Dispose();
        _registry.DisposeAsync().AsTask().GetAwaiter().GetResult();
        _meters.Dispose();
    }

    [Benchmark]
    public long Burst()
    {
        var candles = _rounds[_round];
        if (++_round == Rounds)
        {
            // Candles repeat after the last round, later in time (the features do not read the clock).
            _round = 0;
            _shift += Rounds;
        }

        var cpu = Environment.CpuUsage.TotalTime;
        var start = Stopwatch.GetTimestamp();
        _output.Expect(candles.Length);
        _decisions.Expect(candles.Length);
        foreach (var candle in candles)
        {
            var offset = _shift * (long)candle.Timeframe.NominalDuration().TotalMilliseconds;
            Write(candle with { OpenTime = candle.OpenTime + offset, CloseTime = candle.CloseTime + offset }, CandleOrigin.Live);
        }

        _output.Wait();
        _cpu += Environment.CpuUsage.TotalTime - cpu;
        _liveDecidedMs += Stopwatch.GetElapsedTime(start, _decisions.LastAt).TotalMilliseconds;
        _bursts++;
        return _output.Emitted;
    }

    private void Write(in Candle candle, CandleOrigin origin)
    {
        var write = _channel.WriteClosedAsync(new CandleUpdate("bench", candle, true, candle.CloseTime, candle.CloseTime, origin));
        if (!write.IsCompletedSuccessfully)
        {
            write.AsTask().GetAwaiter().GetResult();
        }
    }

    private static IEnumerable<int> IntegersFrom(string variable, int fallback) =>
        Environment.GetEnvironmentVariable(variable) is { Length: > 0 } list
            ? list.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(int.Parse)
            : [fallback];

    private static IEnumerable<(string Name, string Path)> ExtraFolders() =>
        (Environment.GetEnvironmentVariable("SIGNALSTREAM_BENCH_MODELS") ?? "")
        .Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
        .Select(entry => entry.Split('=', 2))
        .Select(parts => (parts[0], parts[1]));

    private static string ModelsFolder([CallerFilePath] string source = "") =>
        Path.GetFullPath(Path.Combine(Path.GetDirectoryName(source)!, "../../../models"));

    private sealed class ChannelReader(CandleUpdateChannel channel) : ICandleUpdateReader
    {
        public ValueTask<bool> WaitToReadAsync(CancellationToken cancellationToken = default) => channel.WaitToReadAsync(cancellationToken);

        public bool TryRead(out CandleUpdate update) => channel.TryRead(out update);
    }

    /// <summary>A signal stage that notes when the burst's last live decision was asked for.</summary>
    private sealed class LiveDecisionClock : ISignalStage
    {
        private int _remaining;

        public long LastAt { get; private set; }

        public void Expect(int count) => Volatile.Write(ref _remaining, count);

        public ValueTask OnClosedCandleAsync(ClosedCandleResult result, CancellationToken cancellationToken)
        {
            if (result.Update.Origin == CandleOrigin.Live && Interlocked.Decrement(ref _remaining) == 0)
            {
                LastAt = Stopwatch.GetTimestamp();
            }

            return ValueTask.CompletedTask;
        }

        public ValueTask OnShadowPredictionsAsync(ClosedCandleResult decided, IReadOnlyList<ModelPrediction> shadowPredictions, CancellationToken cancellationToken) =>
            ValueTask.CompletedTask;
    }

    private sealed class CountingOutput : IEngineOutput
    {
        private readonly ManualResetEventSlim _done = new(false);
        private int _remaining;

        public long Emitted { get; private set; }

        public void Expect(int count)
        {
            _done.Reset();
            Volatile.Write(ref _remaining, count);
        }

        public void Wait() => _done.Wait();

        public ValueTask OnCandleAsync(CandleUpdate update, CancellationToken cancellationToken)
        {
            Emitted++;
            if (Interlocked.Decrement(ref _remaining) == 0)
            {
                _done.Set();
            }

            return ValueTask.CompletedTask;
        }

        public ValueTask OnSignalAsync(Signal signal, CancellationToken cancellationToken) => ValueTask.CompletedTask;

        public ValueTask OnShadowSignalAsync(Signal signal, CancellationToken cancellationToken) => ValueTask.CompletedTask;

        public ValueTask OnOutcomeAsync(SignalOutcome outcome, CancellationToken cancellationToken) => ValueTask.CompletedTask;
    }
}
