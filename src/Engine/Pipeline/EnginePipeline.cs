using System.Collections.Concurrent;
using System.Diagnostics;
using System.Threading.Channels;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using SignalStream.Contracts;
using SignalStream.Engine.Features;
using SignalStream.Engine.Inference;
using SignalStream.Engine.Inference.Internal;
using SignalStream.Engine.Pipeline.Internal;
using SignalStream.Engine.Tracing;

namespace SignalStream.Engine.Pipeline;

/// <summary>
/// Drives the engine: candle updates → per-stream features → batched inference on every model that serves the
/// stream's timeframe → the signal stage and the outputs, in order per stream.
/// </summary>
/// <remarks>
/// Two loops. The reader passes every update to the live outputs (<see cref="IEngineOutput.OnCandleArrivedAsync"/>),
/// updates features and queues model requests (waiting when a model's queue is full); it hands every update, in
/// arrival order, to the emitter through a bounded queue. The emitter waits for each update's
/// predictions and calls the signal stage and <see cref="EngineOutputs"/>, so every stream's results leave in order
/// even when several of its candles are in flight (a backfill burst). In-progress updates take the same queue so they
/// never overtake the closed candle before them.
/// </remarks>
internal sealed partial class EnginePipeline : BackgroundService
{
    private readonly ICandleUpdateReader _reader;
    private readonly ModelRegistry _registry;
    private readonly EngineOutputs _outputs;
    private readonly ISignalStage? _signals;
    private readonly InferenceMetrics _metrics;
    private readonly InferenceOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger<EnginePipeline> _logger;
    private readonly Dictionary<StreamKey, StreamFeatureState> _streams = [];
    private readonly Channel<PendingCandle> _emitQueue;
    private readonly ConcurrentQueue<PendingCandle> _pool = new();
    private readonly CancellationTokenSource _abort = new();

    /// <param name="reader">The candle source.</param>
    /// <param name="signals">The signal stage, or null to run features and inference only (benchmarks).</param>
    public EnginePipeline(
        ICandleUpdateReader reader,
        ISignalStage? signals,
        ModelRegistry registry,
        EngineOutputs outputs,
        InferenceMetrics metrics,
        InferenceOptions options,
        TimeProvider time,
        ILogger<EnginePipeline> logger)
    {
        _reader = reader;
        _signals = signals;
        _registry = registry;
        _outputs = outputs;
        _metrics = metrics;
        _options = options;
        _time = time;
        _logger = logger;

        // Bounded like every queue: at most a model queue's worth of updates wait for their predictions.
        _emitQueue = Channel.CreateBounded<PendingCandle>(new BoundedChannelOptions(Math.Max(options.QueueCapacity, 1024))
        {
            SingleReader = true,
            SingleWriter = true,
            FullMode = BoundedChannelFullMode.Wait,
        });
    }

    /// <summary>Updates emitted so far (closed and in progress), for tests and the summary.</summary>
    public long Emitted => Interlocked.Read(ref _emitted);

    private long _emitted;

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        // The host's stop timeout aborts a drain that cannot finish (an output that never returns).
        await using var registration = cancellationToken.Register(static s => ((CancellationTokenSource)s!).Cancel(), _abort);
        await base.StopAsync(cancellationToken).ConfigureAwait(false);
    }

    public override void Dispose()
    {
        _abort.Dispose();
        base.Dispose();
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        await Task.Yield();
        Log.Starting(_logger, _registry.Folder, _registry.Current.Models.Length, _signals is not null);
        var emitter = EmitLoopAsync(_abort.Token);
        var summary = SummaryLoopAsync(stoppingToken);
        try
        {
            while (await _reader.WaitToReadAsync(stoppingToken).ConfigureAwait(false))
            {
                while (_reader.TryRead(out var update))
                {
                    await ProcessAsync(update, _abort.Token).ConfigureAwait(false);
                }

                // Ingest has nothing more queued: a burst's last partial batch runs now instead of after the delay.
                FlushModels();
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Stopping: drain what ingest has already queued, so no closed candle it accepted is lost.
            var drained = 0;
            while (_reader.TryRead(out var update))
            {
                await ProcessAsync(update, _abort.Token).ConfigureAwait(false);
                drained++;
            }

            Log.Drained(_logger, drained);
        }
        finally
        {
            _emitQueue.Writer.TryComplete();
        }

        await emitter.ConfigureAwait(false);
        await summary.ConfigureAwait(false);
        Log.Stopped(_logger, _metrics.CandlesClosed, _metrics.Predictions);
    }

    private async ValueTask ProcessAsync(CandleUpdate update, CancellationToken cancellationToken)
    {
        // Live display first: a closed candle should not wait for the models, only its signal does.
        await _outputs.OnCandleArrivedAsync(update, cancellationToken).ConfigureAwait(false);
        var pending = Rent();
        if (!update.IsClosed)
        {
            pending.Reset(update, default, []);
            pending.Seal();
            await _emitQueue.Writer.WriteAsync(pending, cancellationToken).ConfigureAwait(false);
            return;
        }

        // Warm-up history is not traced: it is thousands of candles at start, none of which can signal.
        var trace = SignalStreamTracing.IsOn && update.Origin != CandleOrigin.History ? SignalStreamTracing.StartCandle(update) : null;
        var features = trace is null ? null : SignalStreamTracing.StartDetached("features", trace.Context);
        var set = _registry.Current;
        var state = StateOf(update.Candle.Stream, set.MaxWindow);
        state.Update(update.Candle);
        var models = update.Origin == CandleOrigin.History ? [] : set.For(update.Candle.Timeframe);
        pending.Reset(update, state.Snapshot, models);
        if (trace is not null)
        {
            SignalStreamTracing.StopDetached(features);
            pending.Trace = (trace, SignalStreamTracing.StartDetached("inference", trace.Context)?.SetTag("signalstream.models", models.Length));
        }

        for (var slot = 0; slot < models.Length; slot++)
        {
            var model = models[slot];
            if (!state.HasWindow(model.Window) || !model.TryAcquire())
            {
                continue; // warming up, or retired by a reload a moment ago: no prediction from this model
            }

            pending.AddRequest();
            var writer = new FeatureWindowWriter(state, model.FeatureIndices, model.Window);
            try
            {
                while (!model.Batcher.TryEnqueue(ref writer, pending, slot))
                {
                    await model.Batcher.WaitForSpaceAsync(cancellationToken).ConfigureAwait(false);
                }
            }
            catch
            {
                pending.OnFailed(slot);
                model.Release();
                throw;
            }
        }

        pending.Seal();
        await _emitQueue.Writer.WriteAsync(pending, cancellationToken).ConfigureAwait(false);
    }

    private async Task EmitLoopAsync(CancellationToken cancellationToken)
    {
        await Task.Yield();
        var reader = _emitQueue.Reader;
        while (await reader.WaitToReadAsync(cancellationToken).ConfigureAwait(false))
        {
            while (reader.TryRead(out var pending))
            {
                await pending.WhenCompleteAsync().ConfigureAwait(false);
                await EmitAsync(pending, cancellationToken).ConfigureAwait(false);
                _pool.Enqueue(pending);
            }
        }
    }

    private async ValueTask EmitAsync(PendingCandle pending, CancellationToken cancellationToken)
    {
        var update = pending.Update;
        Interlocked.Increment(ref _emitted);
        if (!update.IsClosed)
        {
            await _outputs.OnCandleAsync(update, cancellationToken).ConfigureAwait(false);
            return;
        }

        _metrics.CandleClosed(update.Exchange, update.Candle.Timeframe.ToName());
        var models = pending.Models;
        var count = 0;
        for (var slot = 0; slot < models.Length; slot++)
        {
            if (pending.TryGet(slot, out _, out _, out _))
            {
                count++;
            }
        }

        IReadOnlyList<ModelPrediction> predictions = [];
        if (count > 0)
        {
            var array = new ModelPrediction[count];
            var i = 0;
            for (var slot = 0; slot < models.Length; slot++)
            {
                if (pending.TryGet(slot, out var down, out var flat, out var up))
                {
                    array[i++] = models[slot].ToPrediction(down, flat, up);
                    _metrics.PredictionsDelivered(models[slot].Name, 1);
                }
            }

            predictions = array;
        }

        var (trace, inference) = pending.Trace;
        SignalStreamTracing.StopDetached(inference?.SetTag("signalstream.predictions", count));
        if (_signals is not null)
        {
            await DecideAsync(new ClosedCandleResult(update, pending.Indicators, predictions), trace, cancellationToken).ConfigureAwait(false);
        }

        await _outputs.OnCandleAsync(update, cancellationToken).ConfigureAwait(false);
        SignalStreamTracing.StopDetached(trace);
    }

    /// <summary>
    /// The signal stage; when the candle is traced, under a <c>decision</c> span that is current for the call, so the
    /// outputs file each signal's <c>store</c> and <c>publish</c> spans under it.
    /// </summary>
    private async ValueTask DecideAsync(ClosedCandleResult result, Activity? trace, CancellationToken cancellationToken)
    {
        if (trace is null)
        {
            await _signals!.OnClosedCandleAsync(result, cancellationToken).ConfigureAwait(false);
            return;
        }

        var previous = Activity.Current;
        var decision = SignalStreamTracing.StartDetached("decision", trace.Context);
        Activity.Current = decision;
        try
        {
            await _signals!.OnClosedCandleAsync(result, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            SignalStreamTracing.StopDetached(decision);
            Activity.Current = previous;
        }
    }

    private void FlushModels()
    {
        foreach (var model in _registry.Current.Models)
        {
            model.Batcher.Flush();
        }
    }

    private StreamFeatureState StateOf(StreamKey stream, int window)
    {
        if (_streams.TryGetValue(stream, out var state))
        {
            if (state.WindowCapacity >= window)
            {
                return state;
            }

            // A reload brought a longer window: the stream warms up again from its next candles.
            Log.StreamRewarming(_logger, stream.ToString(), state.WindowCapacity, window);
        }

        state = new StreamFeatureState(window);
        _streams[stream] = state;
        return state;
    }

    private PendingCandle Rent() => _pool.TryDequeue(out var pending) ? pending : new PendingCandle();

    private async Task SummaryLoopAsync(CancellationToken cancellationToken)
    {
        if (_options.SummarySeconds <= 0)
        {
            return;
        }

        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(_options.SummarySeconds), _time);
        long candles = 0, predictions = 0, batches = 0, rows = 0;
        try
        {
            while (await timer.WaitForNextTickAsync(cancellationToken).ConfigureAwait(false))
            {
                var (c, p, b, r) = (_metrics.CandlesClosed, _metrics.Predictions, _metrics.Batches, _metrics.BatchedRows);
                var batchDelta = b - batches;
                Log.Summary(_logger, c - candles, p - predictions, batchDelta, batchDelta == 0 ? 0 : (double)(r - rows) / batchDelta,
                    _streams.Count, _registry.Current.Models.Length);
                (candles, predictions, batches, rows) = (c, p, b, r);
            }
        }
        catch (OperationCanceledException)
        {
            // Stopping.
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 2200, Level = LogLevel.Information, Message = "Engine pipeline starting: models from {Folder} ({Models} serving), signal stage {HasSignalStage}")]
        public static partial void Starting(ILogger logger, string folder, int models, bool hasSignalStage);

        [LoggerMessage(EventId = 2201, Level = LogLevel.Information, Message = "Engine: {Candles} closed candles, {Predictions} predictions, {Batches} batches (mean batch {MeanBatch:F1}) in the last period; {Streams} streams, {Models} models")]
        public static partial void Summary(ILogger logger, long candles, long predictions, long batches, double meanBatch, int streams, int models);

        [LoggerMessage(EventId = 2202, Level = LogLevel.Information, Message = "Engine pipeline drained {Count} queued updates on shutdown")]
        public static partial void Drained(ILogger logger, int count);

        [LoggerMessage(EventId = 2203, Level = LogLevel.Information, Message = "Engine pipeline stopped after {Candles} closed candles and {Predictions} predictions")]
        public static partial void Stopped(ILogger logger, long candles, long predictions);

        [LoggerMessage(EventId = 2204, Level = LogLevel.Warning, Message = "Stream {Stream} keeps {Have} feature rows but a model now needs {Need}; it warms up again")]
        public static partial void StreamRewarming(ILogger logger, string stream, int have, int need);
    }
}
