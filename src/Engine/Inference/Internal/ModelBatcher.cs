using System.Runtime.InteropServices;
using Microsoft.Extensions.Logging;
using Microsoft.ML.OnnxRuntime;
using SignalStream.Engine.Inference.Onnx;

namespace SignalStream.Engine.Inference.Internal;

/// <summary>
/// Triton-style dynamic batching for one model session: requests from every stream fill the open batch; it runs
/// when it reaches <see cref="MaxBatchSize"/> or when its oldest request has waited the maximum queue delay (checked
/// to the tick on every request queued; by a timer, to about a millisecond, when no request comes).
/// One ONNX Run per batch, batches taken in arrival order, results handed back row by row. The producer may also
/// <see cref="Flush"/> when it has nothing more to queue, so the tail of a burst does not wait out the delay for
/// requests that are not coming.
/// </summary>
/// <remarks>
/// The queue is a fixed set of batch buffers (native memory the bound OrtValues point into, so ORT reads and writes in
/// place); when all are queued or running, <see cref="TryEnqueue"/> returns false and the producer waits in
/// <see cref="WaitForSpaceAsync"/>: back-pressure, never a drop. The batcher owns the session and disposes it
/// (after the last batch) when <see cref="Stop"/> is called.
/// <para>
/// With more than one worker, the extra ones run only full batches, beside the first worker: a burst's batches of one
/// model then run on several cores at once (an ORT session takes concurrent runs), and may finish out of order, which
/// nobody downstream depends on (the engine waits for each candle's predictions in the candles' order). The open,
/// partial batch and its deadline stay the first worker's.
/// </para>
/// </remarks>
internal sealed partial class ModelBatcher
{
    private readonly OnnxSession _session;
    private readonly string _model;
    private readonly int _window;
    private readonly int _features;
    private readonly int _rowLength;
    private readonly long _maxDelayTicks;
    private readonly TimeProvider _time;
    private readonly InferenceMetrics _metrics;
    private readonly ILogger _logger;
    private readonly Action<int> _delivered;
    private readonly LiveFirst? _liveFirst;
    private readonly bool _isShadow;
    private readonly Recurrence? _recurrence;
    private readonly Lock _lock = new();
    private readonly Batch[] _batches;
    private readonly Stack<Batch> _free;
    private readonly Queue<Batch> _ready;
    private readonly AsyncSignal _workerSignal = new();
    private readonly AsyncSignal _spaceSignal = new();
    private readonly AsyncSignal[] _helperSignals;
    private readonly ITimer _timer;
    private readonly Task[] _helpers;
    private readonly Task _worker;
    private Batch? _filling;
    private long _sequence;
    private bool _flushRequested;
    private int _spaceWaiters;
    private volatile bool _stopping;

    /// <param name="delivered">Called after each batch with its row count (results delivered or failed), for in-flight accounting.</param>
    /// <param name="liveFirst">Shared by a node's batchers: a live model's requests are counted in it, a shadow model's
    /// batches wait until it has none (null: no ordering between models).</param>
    /// <param name="isShadow">Whether this batcher serves a shadow model.</param>
    /// <param name="workers">Threads that run this model's batches (the extra ones take full batches only).</param>
    /// <param name="recurrence">Set for a recurrent model: its rows are queued with <see cref="TryEnqueue(in RecurrentRow, IPredictionSink, int)"/>
    /// and run on one worker, in order.</param>
    /// <exception cref="OnnxRuntimeException">The session rejected a binding of a full batch (the caller still owns the session).</exception>
    public ModelBatcher(
        OnnxSession session,
        string model,
        int window,
        int features,
        int maxBatchSize,
        TimeSpan maxQueueDelay,
        int queueCapacity,
        TimeProvider time,
        InferenceMetrics metrics,
        ILogger logger,
        Action<int> delivered,
        LiveFirst? liveFirst = null,
        bool isShadow = false,
        int workers = 1,
        Recurrence? recurrence = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxBatchSize, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(workers, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(window, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(features, 1);
        if (recurrence is not null && (workers != 1 || window != 1))
        {
            throw new ArgumentException("A recurrent model steps one row a stream, in order: one worker, a window of 1.", nameof(recurrence));
        }

        _session = session;
        _recurrence = recurrence;
        _model = model;
        _window = window;
        _features = features;
        _rowLength = window * features;
        MaxBatchSize = maxBatchSize;
        _time = time;
        _maxDelayTicks = (long)(maxQueueDelay.TotalSeconds * time.TimestampFrequency);
        _metrics = metrics;
        _logger = logger;
        _delivered = delivered;
        _liveFirst = liveFirst;
        _isShadow = isShadow;

        // Enough buffers for the queue capacity; one more than the workers at least, so one fills while each runs one.
        var count = Math.Max((queueCapacity + maxBatchSize - 1) / maxBatchSize, workers + 1);
        _batches = new Batch[count];
        _free = new Stack<Batch>(count);
        _ready = new Queue<Batch>(count);
        for (var i = 0; i < count; i++)
        {
            _batches[i] = new Batch(maxBatchSize, _rowLength, recurrence is null ? null : new ChainRows(maxBatchSize, recurrence.StateWidth));
            _free.Push(_batches[i]);
        }

        // Full batches are what a burst runs: their bindings are made with the buffers, so not even the first burst
        // after a load creates one. Other row counts get theirs on first use.
        try
        {
            foreach (var batch in _batches)
            {
                batch.BindingFor(session, maxBatchSize, window, features, recurrence);
            }
        }
        catch
        {
            foreach (var batch in _batches)
            {
                batch.Dispose();
            }

            throw;
        }

        _timer = time.CreateTimer(static s => ((AsyncSignal)s!).Set(), _workerSignal, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        _helperSignals = new AsyncSignal[workers - 1];
        _helpers = new Task[workers - 1];
        for (var i = 0; i < _helpers.Length; i++)
        {
            var signal = _helperSignals[i] = new AsyncSignal();
            _helpers[i] = Task.Run(() => HelpAsync(signal));
        }

        _worker = Task.Run(RunAsync);
    }

    public int MaxBatchSize { get; }

    /// <summary>Requests the queue can hold before producers wait.</summary>
    public int Capacity => _batches.Length * MaxBatchSize;

    /// <summary>Completes when the worker has run every queued batch after <see cref="Stop"/> and released the session.</summary>
    public Task Completion => _worker;

    /// <summary>Queues one request: writes its input row into the open batch. False when the queue is full (wait, then retry).</summary>
    /// <exception cref="ObjectDisposedException">After <see cref="Stop"/>: a caller that did not hold a reference to the model.</exception>
    public bool TryEnqueue<TWriter>(ref TWriter writer, IPredictionSink sink, int slot)
        where TWriter : IBatchRowWriter, allows ref struct
    {
        Wake wake;
        lock (_lock)
        {
            var batch = OpenBatch();
            if (batch is null)
            {
                return false;
            }

            writer.Write(batch.InputRow(batch.Count, _rowLength));
            wake = Queued(batch, sink, slot);
        }

        Notify(wake);
        return true;
    }

    /// <summary>The batch taking requests: the open one, or a free one opened now; null when every buffer is queued or running.</summary>
    private Batch? OpenBatch()
    {
        ObjectDisposedException.ThrowIf(_stopping, this);
        var batch = _filling;
        if (batch is null)
        {
            if (!_free.TryPop(out batch))
            {
                return null;
            }

            batch.Count = 0;
            batch.Sequence = ++_sequence;
            _filling = batch;
        }

        return batch;
    }

    /// <summary>Counts the request just written as the open batch's next row; says whom to wake. Under the lock.</summary>
    private Wake Queued(Batch batch, IPredictionSink sink, int slot)
    {
        var wake = Wake.None;
        var row = batch.Count;
        var now = _time.GetTimestamp();
        batch.Sinks[row] = sink;
        batch.Slots[row] = slot;
        batch.EnqueuedAt[row] = now;
        batch.Count = row + 1;
        if (!_isShadow)
        {
            _liveFirst?.Queued();
        }

        if (row == 0)
        {
            batch.Oldest = now;
            wake = Wake.Worker;
        }
        else if (now - batch.Oldest >= _maxDelayTicks && !_flushRequested)
        {
            // The oldest request has waited the delay while the producer kept queueing: due now, to the tick.
            _flushRequested = true;
            wake = Wake.Worker;
        }

        return batch.Count == MaxBatchSize ? Close(batch) : wake;
    }

    /// <summary>Moves the open batch to the ready queue. Under the lock.</summary>
    private Wake Close(Batch batch)
    {
        _filling = null;
        _flushRequested = false;
        _ready.Enqueue(batch);
        return batch.Count == MaxBatchSize ? Wake.Worker | Wake.Helpers : Wake.Worker;
    }

    private void Notify(Wake wake)
    {
        if ((wake & Wake.Worker) != 0)
        {
            _workerSignal.Set();
        }

        if ((wake & Wake.Helpers) != 0)
        {
            foreach (var helper in _helperSignals)
            {
                helper.Set();
            }
        }
    }

    /// <summary>
    /// Makes the open batch due now: the producer has drained its input, so waiting longer only adds latency. The
    /// batch still takes requests queued before the worker picks it up (when the worker is busy with an earlier one).
    /// </summary>
    public void Flush()
    {
        lock (_lock)
        {
            if (_filling is not { Count: > 0 } || _stopping)
            {
                return;
            }

            _flushRequested = true;
        }

        _workerSignal.Set();
    }

    /// <summary>Waits until a batch buffer is free. One waiting producer at a time (the engine pipeline).</summary>
    public async ValueTask WaitForSpaceAsync(CancellationToken cancellationToken)
    {
        if (Interlocked.Increment(ref _spaceWaiters) != 1)
        {
            Interlocked.Decrement(ref _spaceWaiters);
            throw new InvalidOperationException("Only one producer may wait for batch space at a time.");
        }

        try
        {
            lock (_lock)
            {
                if (_filling is not null || _free.Count > 0)
                {
                    return;
                }
            }

            // The worker signals after every batch it recycles; cancellation is checked between batches only, which
            // are bounded by one model run.
            await _spaceSignal.WaitAsync().ConfigureAwait(false);
            cancellationToken.ThrowIfCancellationRequested();
        }
        finally
        {
            Interlocked.Decrement(ref _spaceWaiters);
        }
    }

    /// <summary>Runs what is queued without waiting for the delay, then disposes the session. Idempotent.</summary>
    public void Stop()
    {
        _stopping = true;
        _workerSignal.Set();
        foreach (var helper in _helperSignals)
        {
            helper.Set();
        }
    }

    private async Task RunAsync()
    {
        try
        {
            while (true)
            {
                if (_isShadow && _liveFirst is { InFlight: > 0 } live && !_stopping)
                {
                    // The live models first: the open batch keeps filling meanwhile (a larger batch when it runs).
                    await live.WhenIdleAsync().ConfigureAwait(false);
                    continue;
                }

                var batch = TakeReady(out var deadline);
                if (batch is not null)
                {
                    Execute(batch);
                    Recycle(batch);
                    continue;
                }

                if (deadline == long.MinValue)
                {
                    break; // stopping and empty
                }

                if (deadline == long.MaxValue)
                {
                    await _workerSignal.WaitAsync().ConfigureAwait(false);
                    continue;
                }

                // Sleep until the batch fills, the producer flushes it or finds it due, or the timer fires. The timer is
                // for a producer that stopped queueing without a flush (waiting on another model's full queue, say);
                // .NET timers tick at about 1 ms on Linux, so it is armed for at least 1 ms. The worker never spins:
                // a spinning worker takes a core from the producer and the other models in the middle of a burst.
                var remaining = Math.Max((double)(deadline - _time.GetTimestamp()) / _time.TimestampFrequency, 0.001);
                _timer.Change(TimeSpan.FromSeconds(remaining), Timeout.InfiniteTimeSpan);
                await _workerSignal.WaitAsync().ConfigureAwait(false);
                _timer.Change(Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
            }
        }
        finally
        {
            _timer.Dispose();

            // The helpers stop once the queue is empty; their last batch must be done before the buffers and the session go.
            await Task.WhenAll(_helpers).ConfigureAwait(false);
            foreach (var batch in _batches)
            {
                batch.Dispose();
            }

            _session.Dispose();
            Log.SessionReleased(_logger, _model);
        }
    }

    /// <summary>An extra worker: runs full batches beside the first one until the batcher stops and nothing is ready.</summary>
    private async Task HelpAsync(AsyncSignal signal)
    {
        while (true)
        {
            if (_isShadow && _liveFirst is { InFlight: > 0 } live && !_stopping)
            {
                await live.WhenIdleAsync().ConfigureAwait(false);
                continue;
            }

            var batch = TakeFull();
            if (batch is not null)
            {
                Execute(batch);
                Recycle(batch);
                continue;
            }

            if (_stopping)
            {
                return;
            }

            await signal.WaitAsync().ConfigureAwait(false);
        }
    }

    /// <summary>The oldest full batch, or null: an extra worker never takes the open one.</summary>
    private Batch? TakeFull()
    {
        lock (_lock)
        {
            return _ready.Count > 0 ? _ready.Dequeue() : null;
        }
    }

    /// <summary>The next batch to run, or null with the time the open batch becomes due
    /// (<see cref="long.MaxValue"/>: nothing open; <see cref="long.MinValue"/>: stopping and empty).</summary>
    private Batch? TakeReady(out long deadline)
    {
        lock (_lock)
        {
            deadline = 0;
            if (_ready.Count > 0)
            {
                return _ready.Dequeue();
            }

            if (_filling is { Count: > 0 } open)
            {
                var due = open.Oldest + _maxDelayTicks;
                if (_stopping || _flushRequested || _time.GetTimestamp() >= due)
                {
                    _filling = null;
                    _flushRequested = false;
                    return open;
                }

                deadline = due;
                return null;
            }

            deadline = _stopping ? long.MinValue : long.MaxValue;
            return null;
        }
    }

    private unsafe void Execute(Batch batch)
    {
        var rows = batch.Count;
        var chains = batch.Chains;
        var start = _time.GetTimestamp();
        try
        {
            if (chains is null)
            {
                _session.Run(batch.BindingFor(_session, rows, _window, _features, null));
            }
            else
            {
                RunChained(batch, chains);
            }
        }
        catch (OnnxRuntimeException ex)
        {
            Log.BatchFailed(_logger, _model, rows, ex);
            _metrics.BatchFailed(_model);
            chains?.Failed(rows);
            for (var i = 0; i < rows; i++)
            {
                var sink = batch.Sinks[i]!;
                batch.Sinks[i] = null;
                sink.OnFailed(batch.Slots[i]);
            }

            Delivered(rows);
            return;
        }

        var end = _time.GetTimestamp();
        _metrics.BatchCompleted(_model, rows, (double)(end - start) / _time.TimestampFrequency);
        var frequency = (double)_time.TimestampFrequency;
        var probabilities = batch.Output;
        for (var i = 0; i < rows; i++)
        {
            var p = probabilities + (i * 3);
            var sink = batch.Sinks[i]!;
            batch.Sinks[i] = null; // no reference kept to a finished request
            _metrics.QueueDelay(_model, (start - batch.EnqueuedAt[i]) / frequency);
            if (chains is null || chains.Predicts(i))
            {
                sink.OnPrediction(batch.Slots[i], p[0], p[1], p[2]);
            }
            else
            {
                sink.OnFailed(batch.Slots[i]);
            }
        }

        Delivered(rows);
    }

    private void Delivered(int rows)
    {
        if (!_isShadow)
        {
            _liveFirst?.Done(rows);
        }

        _delivered(rows);
    }

    private void Recycle(Batch batch)
    {
        batch.Count = 0;
        lock (_lock)
        {
            _free.Push(batch);
        }

        _spaceSignal.Set();
    }

    /// <summary>One reusable batch: input rows and output probabilities in native memory, and an ORT binding per row count.</summary>
    private sealed unsafe class Batch : IDisposable
    {
        private readonly OnnxBinding?[] _bindings;

        public Batch(int maxRows, int rowLength, ChainRows? chains)
        {
            Chains = chains;
            Input = (float*)NativeMemory.AlignedAlloc((nuint)maxRows * (nuint)rowLength * sizeof(float), 64);
            Output = (float*)NativeMemory.AlignedAlloc((nuint)maxRows * 3 * sizeof(float), 64);
            new Span<float>(Output, maxRows * 3).Clear();
            Sinks = new IPredictionSink?[maxRows];
            Slots = new int[maxRows];
            EnqueuedAt = new long[maxRows];
            _bindings = new OnnxBinding?[maxRows + 1];
        }

        public float* Input { get; }

        public float* Output { get; }

        public IPredictionSink?[] Sinks { get; }

        public int[] Slots { get; }

        public long[] EnqueuedAt { get; }

        /// <summary>A recurrent model's per-row chain data and state tensors; null for a windowed model.</summary>
        public ChainRows? Chains { get; }

        public int Count { get; set; }

        /// <summary>Numbers the batches as they open, so a recurrent stream can tell whether its last row is in the open one.</summary>
        public long Sequence { get; set; }

        public long Oldest { get; set; }

        public Span<float> InputRow(int row, int rowLength) => new(Input + ((nint)row * rowLength), rowLength);

        /// <summary>Tensors over the first <paramref name="rows"/> rows, bound to the session; made once per row count, then reused.</summary>
        public OnnxBinding BindingFor(OnnxSession session, int rows, int window, int features, Recurrence? recurrence) =>
            _bindings[rows] ??= recurrence is null
                ? session.Bind(Input, Output, rows, window, features)
                : Chains!.Bind(session, recurrence, Input, Output, rows, features);

        public void Dispose()
        {
            foreach (var binding in _bindings)
            {
                binding?.Dispose();
            }

            Chains?.Dispose();
            NativeMemory.AlignedFree(Input);
            NativeMemory.AlignedFree(Output);
        }
    }

    [Flags]
    private enum Wake
    {
        None = 0,
        Worker = 1,
        Helpers = 2,
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 2110, Level = LogLevel.Error, Message = "Inference batch of {Rows} rows failed in model {Model}; those candles get no prediction from it")]
        public static partial void BatchFailed(ILogger logger, string model, int rows, Exception exception);

        [LoggerMessage(EventId = 2111, Level = LogLevel.Debug, Message = "Model {Model}: session released after its last batch")]
        public static partial void SessionReleased(ILogger logger, string model);
    }
}
