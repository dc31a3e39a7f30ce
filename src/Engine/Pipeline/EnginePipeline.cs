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
/// Three loops, each update passing through them in arrival order over bounded queues, so every stream's results leave
/// in order even when several of its candles are in flight (a backfill burst); in-progress updates take the same
/// queues so they never overtake the closed candle before them.
/// <list type="number">
/// <item>The reader passes every update to the live outputs (<see cref="IEngineOutput.OnCandleArrivedAsync"/>),
/// updates features and queues model requests (waiting when a model's queue is full).</item>
/// <item>The decider waits for the live models' predictions only and calls the signal stage, which decides and
/// publishes the signal: a subscriber's signal never waits for a shadow model.</item>
/// <item>The finisher waits for the shadow models' predictions, hands them to the signal stage (journaled, never
/// published), then gives the update to <see cref="EngineOutputs.OnCandleAsync"/>: a closed candle is stored after
/// every decision on it, which is what lets a restart skip stored candles without skipping a decision. It works only
/// while the decider has nothing queued (or waits for it), so a burst's live decisions come first.</item>
/// </list>
/// A stream's next closed candle is decided only once the finisher is done with its previous one, so the signal stage
/// sees each stream's candles in the order live, shadow, live, shadow (a replay decides the same).
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
    private readonly Dictionary<StreamKey, PipelineStream> _streams = [];
    private readonly ChainPrimer _primer = new();
    private readonly Channel<PendingCandle> _decideQueue;
    private readonly Channel<PendingCandle> _finishQueue;
    private readonly AsyncSignal _finished = new();

    // Set whenever the decider has nothing queued or waits for the finisher: the finisher works only then (DecideFirst).
    private readonly AsyncSignal _deciderYields = new();
    private volatile bool _deciderWaitsForFinisher;
    private volatile bool _deciderStopped;
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

        // Bounded like every queue: at most a model queue's worth of updates wait for their predictions in each.
        var capacity = Math.Max(options.QueueCapacity, 1024);
        _decideQueue = CreateQueue(capacity);
        _finishQueue = CreateQueue(capacity);
    }

    private static Channel<PendingCandle> CreateQueue(int capacity) =>
        Channel.CreateBounded<PendingCandle>(new BoundedChannelOptions(capacity)
        {
            SingleReader = true,
            SingleWriter = true,
            FullMode = BoundedChannelFullMode.Wait,
        });

    /// <summary>Updates emitted so far (closed and in progress), for tests and the summary.</summary>
    public long Emitted => Interlocked.Read(ref _emitted);

    private long _emitted;

    // Tickets of updates handed from the decider to the finisher, and of the last one the finisher is done with.
    private long _handedOver;
    private long _finishedTicket;
    private volatile bool _finisherStopped;

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
        var decider = DecideLoopAsync(_abort.Token);
        var finisher = FinishLoopAsync(_abort.Token);
        var summary = SummaryLoopAsync(stoppingToken);
        try
        {
            while (await _reader.WaitToReadAsync(stoppingToken).ConfigureAwait(false))
            {
                while (_reader.TryRead(out var update))
                {
                    await ProcessAsync(update, _abort.Token).ConfigureAwait(false);
                }

                // Ingest has nothing more queued: rebuild the chains warm-up history or a reload left behind (so the
                // next live candles only step; in-progress updates wake the reader every few seconds, so a reload is
                // caught up before the next close), and a burst's last partial batch runs now instead of after the delay.
                _primer.Using(_registry.Current, _streams.Values);
                if (_primer.Pending > 0)
                {
                    await _primer.PrimeAsync(_registry.Current, _abort.Token).ConfigureAwait(false);
                }

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
            _decideQueue.Writer.TryComplete();
        }

        await decider.ConfigureAwait(false);
        await finisher.ConfigureAwait(false);
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
            await _decideQueue.Writer.WriteAsync(pending, cancellationToken).ConfigureAwait(false);
            return;
        }

        // Warm-up history is not traced: it is thousands of candles at start, none of which can signal.
        var trace = SignalStreamTracing.IsOn && update.Origin != CandleOrigin.History ? SignalStreamTracing.StartCandle(update) : null;
        var features = trace is null ? null : SignalStreamTracing.StartDetached("features", trace.Context);
        var set = _registry.Current;
        _primer.Using(set, _streams.Values);
        var stream = StreamOf(update.Candle.Stream, set.MaxWindow);
        var state = stream.Features;
        state.Update(update.Candle);
        _primer.Processed(stream, update.Origin);
        var models = update.Origin == CandleOrigin.History ? [] : set.For(update.Candle.Timeframe);
        pending.Reset(update, state.Snapshot, models, stream);
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

            pending.AddRequest(slot);
            try
            {
                if (model.Recurrence is { } recurrence)
                {
                    var request = stream.ChainFor(model, set).Next(state, model.FeatureIndices, recurrence);
                    await model.Batcher.EnqueueAsync(request, pending, slot, cancellationToken).ConfigureAwait(false);
                }
                else
                {
                    var writer = new FeatureWindowWriter(state, model.FeatureIndices, model.Window);
                    while (!model.Batcher.TryEnqueue(ref writer, pending, slot))
                    {
                        await model.Batcher.WaitForSpaceAsync(cancellationToken).ConfigureAwait(false);
                    }
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
        await _decideQueue.Writer.WriteAsync(pending, cancellationToken).ConfigureAwait(false);
    }

    private async Task DecideLoopAsync(CancellationToken cancellationToken)
    {
        await Task.Yield();
        var reader = _decideQueue.Reader;
        try
        {
            while (await reader.WaitToReadAsync(cancellationToken).ConfigureAwait(false))
            {
                while (reader.TryRead(out var pending))
                {
                    await pending.WhenLiveCompleteAsync().ConfigureAwait(false);
                    await DecideLiveAsync(pending, cancellationToken).ConfigureAwait(false);
                    pending.Ticket = ++_handedOver;
                    if (pending.ShadowRequests > 0 && pending.Stream is { } stream)
                    {
                        stream.LastShadowTicket = pending.Ticket;
                    }

                    if (!_finishQueue.Writer.TryWrite(pending))
                    {
                        await WaitingForFinisherAsync(_finishQueue.Writer.WriteAsync(pending, cancellationToken)).ConfigureAwait(false);
                    }
                }

                _deciderYields.Set();
            }
        }
        finally
        {
            // Aborted, it may leave candles queued: the finisher must not wait for them.
            _deciderStopped = true;
            _finishQueue.Writer.TryComplete();
            _deciderYields.Set();
        }
    }

    /// <summary>A wait of the decider on the finisher, during which the finisher must not wait for the decider.</summary>
    private async ValueTask WaitingForFinisherAsync(ValueTask wait)
    {
        _deciderWaitsForFinisher = true;
        _deciderYields.Set();
        try
        {
            await wait.ConfigureAwait(false);
        }
        finally
        {
            _deciderWaitsForFinisher = false;
        }
    }

    /// <summary>
    /// Lets the decider go first: while it has candles queued (and is not itself waiting for the finisher), the finisher
    /// waits. Nothing a subscriber waits for is done by the finisher (shadow decisions, the closed candle's stored event),
    /// and in a closing bell its ~12 ms of CPU competed with the live decisions, their commits and their sends on two
    /// cores (BENCHMARKS.md, "The closing bell: the finisher after the decider").
    /// </summary>
    private async ValueTask DecideFirstAsync()
    {
        while (_decideQueue.Reader.Count > 0 && !_deciderWaitsForFinisher && !_deciderStopped)
        {
            await _deciderYields.WaitAsync().ConfigureAwait(false);
        }
    }

    /// <summary>A closed candle's live predictions to the signal stage (which publishes its signal), once its stream's previous candle is finished.</summary>
    private async ValueTask DecideLiveAsync(PendingCandle pending, CancellationToken cancellationToken)
    {
        var update = pending.Update;
        if (!update.IsClosed)
        {
            return;
        }

        if (pending.Stream is { } stream && stream.LastShadowTicket > Volatile.Read(ref _finishedTicket))
        {
            await WaitingForFinisherAsync(WaitFinishedAsync(stream.LastShadowTicket)).ConfigureAwait(false);
        }

        _metrics.CandleClosed(update.Exchange, update.Candle.Timeframe.ToName());
        var predictions = Collect(pending, shadows: false, out var count);
        var (trace, inference) = pending.Trace;
        SignalStreamTracing.StopDetached(inference?.SetTag("signalstream.predictions", count));
        if (_signals is not null)
        {
            var result = new ClosedCandleResult(update, pending.Indicators, predictions) { ShadowPredictionsFollow = pending.ShadowRequests > 0 };
            pending.Decided = result;
            await DecideAsync(result, trace, cancellationToken).ConfigureAwait(false);
        }
    }

    private async ValueTask WaitFinishedAsync(long ticket)
    {
        while (Volatile.Read(ref _finishedTicket) < ticket)
        {
            if (_finisherStopped)
            {
                throw new InvalidOperationException("The engine's finisher stopped before the candle a stream's next decision waits for.");
            }

            await _finished.WaitAsync().ConfigureAwait(false);
        }
    }

    private async Task FinishLoopAsync(CancellationToken cancellationToken)
    {
        await Task.Yield();
        var reader = _finishQueue.Reader;
        try
        {
            while (await reader.WaitToReadAsync(cancellationToken).ConfigureAwait(false))
            {
                while (reader.TryRead(out var pending))
                {
                    await pending.WhenCompleteAsync().ConfigureAwait(false);
                    await DecideFirstAsync().ConfigureAwait(false);
                    await FinishAsync(pending, cancellationToken).ConfigureAwait(false);
                    Volatile.Write(ref _finishedTicket, pending.Ticket);
                    _finished.Set();
                    pending.Decided = null; // no candle kept alive by the pool
                    _pool.Enqueue(pending);
                }
            }
        }
        finally
        {
            _finisherStopped = true;
            _finished.Set();
        }
    }

    /// <summary>A closed candle's shadow predictions (and its shadow signals' outcomes) to the signal stage, then the update to the outputs.</summary>
    private async ValueTask FinishAsync(PendingCandle pending, CancellationToken cancellationToken)
    {
        var update = pending.Update;
        Interlocked.Increment(ref _emitted);
        if (update.IsClosed && pending.Decided is { ShadowPredictionsFollow: true } decided)
        {
            // Even with no prediction (every shadow model failed): the stream's shadow signals resolve in this call.
            var shadows = Collect(pending, shadows: true, out _);
            await _signals!.OnShadowPredictionsAsync(decided, shadows, cancellationToken).ConfigureAwait(false);
        }

        await _outputs.OnCandleAsync(update, cancellationToken).ConfigureAwait(false);
        SignalStreamTracing.StopDetached(pending.Trace.Candle);
    }

    /// <summary>The live or the shadow models' predictions of a candle, counted as delivered.</summary>
    private IReadOnlyList<ModelPrediction> Collect(PendingCandle pending, bool shadows, out int count)
    {
        var models = pending.Models;
        count = 0;
        for (var slot = 0; slot < models.Length; slot++)
        {
            if (models[slot].IsShadow == shadows && pending.TryGet(slot, out _, out _, out _))
            {
                count++;
            }
        }

        if (count == 0)
        {
            return [];
        }

        var array = new ModelPrediction[count];
        var i = 0;
        for (var slot = 0; slot < models.Length; slot++)
        {
            if (models[slot].IsShadow == shadows && pending.TryGet(slot, out var down, out var flat, out var up))
            {
                array[i++] = models[slot].ToPrediction(down, flat, up);
                _metrics.PredictionsDelivered(models[slot].Name, 1);
            }
        }

        return array;
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

    private PipelineStream StreamOf(StreamKey key, int window)
    {
        if (!_streams.TryGetValue(key, out var stream))
        {
            stream = new PipelineStream(key, new StreamFeatureState(window));
            _streams[key] = stream;
        }
        else if (stream.Features.WindowCapacity < window)
        {
            // A reload brought a longer window: the stream warms up again from its next candles.
            Log.StreamRewarming(_logger, key.ToString(), stream.Features.WindowCapacity, window);
            stream.Features = new StreamFeatureState(window);
        }

        return stream;
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
