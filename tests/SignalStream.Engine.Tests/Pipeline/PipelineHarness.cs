using System.Collections.Concurrent;
using Microsoft.Extensions.Logging.Abstractions;
using SignalStream.Contracts;
using SignalStream.Engine.Inference;
using SignalStream.Engine.Inference.Internal;
using SignalStream.Engine.Pipeline;
using SignalStream.Engine.Tests.Inference;
using SignalStream.Ingest;

namespace SignalStream.Engine.Tests.Pipeline;

/// <summary>The engine pipeline wired to a candle channel, fixture models, and recording outputs.</summary>
internal sealed class PipelineHarness : IAsyncDisposable
{
    private readonly TestMeterFactory _meters = new();

    public PipelineHarness(ModelFolder models, InferenceOptions? options = null)
    {
        Metrics = new InferenceMetrics(_meters);
        Options = options ?? new InferenceOptions { MaxBatchSize = 64, MaxQueueDelayMicroseconds = 200, QueueCapacity = 256, SummarySeconds = 0 };
        Registry = models.CreateRegistry(Metrics, Options);
        Pipeline = new EnginePipeline(new ChannelReaderAdapter(Channel), Signals, Registry, new EngineOutputs(store: null, [Outputs]), Metrics, Options, TimeProvider.System,
            NullLogger<EnginePipeline>.Instance);
    }

    public CandleUpdateChannel Channel { get; } = new(4096);

    public InferenceMetrics Metrics { get; }

    public InferenceOptions Options { get; }

    public ModelRegistry Registry { get; }

    public EnginePipeline Pipeline { get; }

    public RecordingSignalStage Signals { get; } = new();

    public RecordingOutput Outputs { get; } = new();

    public async Task StartAsync()
    {
        await Registry.StartAsync(CancellationToken.None);
        await Pipeline.StartAsync(CancellationToken.None);
    }

    /// <summary>Completes the channel, lets the pipeline drain it, then stops models (as the host does).</summary>
    public async Task DrainAndStopAsync(TimeSpan timeout)
    {
        Channel.Complete();
        await Pipeline.ExecuteTask!.WaitAsync(timeout);
        await Pipeline.StopAsync(CancellationToken.None).WaitAsync(timeout);
        await Registry.StopAsync(CancellationToken.None).WaitAsync(timeout);
    }

    public async ValueTask DisposeAsync()
    {
        Pipeline.Dispose();
        await Registry.DisposeAsync();
        _meters.Dispose();
    }

    private sealed class ChannelReaderAdapter(CandleUpdateChannel channel) : ICandleUpdateReader
    {
        public ValueTask<bool> WaitToReadAsync(CancellationToken cancellationToken = default) => channel.WaitToReadAsync(cancellationToken);

        public bool TryRead(out CandleUpdate update) => channel.TryRead(out update);
    }
}

internal sealed class RecordingSignalStage : ISignalStage
{
    private readonly Lock _lock = new();
    private readonly List<(Func<IReadOnlyList<ClosedCandleResult>, bool> Condition, TaskCompletionSource Done)> _waiters = [];

    public List<ClosedCandleResult> Results { get; } = [];

    /// <summary>When set, every decision waits for it after being recorded (a slow signal stage), or for the engine's abort.</summary>
    public Task? Hold { get; set; }

    /// <summary>Decisions before this many are not held by <see cref="Hold"/>.</summary>
    public int HoldFrom { get; set; }

    /// <summary>When set, every shadow call waits for it after being recorded (a slow journal of shadow signals).</summary>
    public Task? ShadowHold { get; set; }

    /// <summary>Every call in order: (shadow?, candle): a candle's live call, then its shadow call when it announced one.</summary>
    public List<(bool Shadow, Candle Candle)> Calls { get; } = [];

    public ValueTask OnClosedCandleAsync(ClosedCandleResult result, CancellationToken cancellationToken)
    {
        int decisions;
        lock (_lock)
        {
            Calls.Add((false, result.Update.Candle));
            Results.Add(result);
            decisions = Results.Count;
            Notify();
        }

        return Hold is { } hold && decisions > HoldFrom ? new ValueTask(hold.WaitAsync(cancellationToken)) : ValueTask.CompletedTask;
    }

    /// <summary>Recorded into the candle's result, so <see cref="Results"/> holds every model's prediction of a candle.</summary>
    public ValueTask OnShadowPredictionsAsync(ClosedCandleResult decided, IReadOnlyList<ModelPrediction> shadowPredictions, CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            Calls.Add((true, decided.Update.Candle));
            var i = Results.FindLastIndex(r => r.Update.Candle.Stream == decided.Update.Candle.Stream);
            if (i < 0 || !ReferenceEquals(Results[i], decided) || !decided.ShadowPredictionsFollow)
            {
                throw new InvalidOperationException($"Shadow predictions of {decided.Update.Candle.Stream} {decided.Update.Candle.OpenTime} came without their live call.");
            }

            Results[i] = Results[i] with { Predictions = [.. Results[i].Predictions, .. shadowPredictions] };
            Notify();
        }

        return ShadowHold is { } hold ? new ValueTask(hold) : ValueTask.CompletedTask;
    }

    private void Notify()
    {
        foreach (var (condition, done) in _waiters)
        {
            if (!done.Task.IsCompleted && condition(Results))
            {
                done.TrySetResult();
            }
        }
    }

    public Task WhenAsync(Func<IReadOnlyList<ClosedCandleResult>, bool> condition)
    {
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_lock)
        {
            if (condition(Results))
            {
                return Task.CompletedTask;
            }

            _waiters.Add((condition, done));
        }

        return done.Task;
    }

    public (bool Shadow, Candle Candle)[] CallsSnapshot()
    {
        lock (_lock)
        {
            return [.. Calls];
        }
    }

    public ClosedCandleResult[] Snapshot()
    {
        lock (_lock)
        {
            return [.. Results];
        }
    }
}

internal sealed class RecordingOutput : IEngineOutput
{
    public ConcurrentQueue<CandleUpdate> Candles { get; } = new();

    public ConcurrentQueue<CandleUpdate> Arrived { get; } = new();

    public ValueTask OnCandleArrivedAsync(CandleUpdate update, CancellationToken cancellationToken)
    {
        Arrived.Enqueue(update);
        return ValueTask.CompletedTask;
    }

    public ValueTask OnCandleAsync(CandleUpdate update, CancellationToken cancellationToken)
    {
        Candles.Enqueue(update);
        return ValueTask.CompletedTask;
    }

    public ValueTask OnSignalAsync(Signal signal, CancellationToken cancellationToken) => ValueTask.CompletedTask;

    public ValueTask OnShadowSignalAsync(Signal signal, CancellationToken cancellationToken) => ValueTask.CompletedTask;

    public ValueTask OnOutcomeAsync(SignalOutcome outcome, CancellationToken cancellationToken) => ValueTask.CompletedTask;
}
