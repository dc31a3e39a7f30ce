using System.Collections.Concurrent;
using System.Diagnostics.CodeAnalysis;
using System.Diagnostics.Metrics;
using System.Threading.Channels;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using SignalStream.Contracts;
using SignalStream.Engine;
using SignalStream.Engine.Events;
using SignalStream.EventStore.Internal;

namespace SignalStream.EventStore;

/// <summary>
/// Persists the engine's results: the <see cref="IDurableEngineOutput"/>. Events go through a bounded channel into group
/// commits (by size, or after a short delay). A signal or an outcome is handed to the publishers only after its group
/// commit is acknowledged, so nothing a client sees can be lost by a crash. While the store is down, the channel is the
/// outage buffer: appends are retried with exponential backoff, and once the buffer is full the engine's ValueTask
/// waits — nothing is dropped. A retried group keeps its event ids, so a commit whose acknowledgement was lost is not
/// written twice.
/// <para>
/// Commits run on <see cref="EventWriterOptions.CommitLanes"/> lanes, each with its own channel and its own commit loop,
/// so one group is being built and sent while another waits for its fsync. Events are routed by symbol (a stable hash),
/// so everything of one symbol — its candles, signals, outcomes — goes through one lane, in order, one commit at a
/// time: per-stream order and the retry-with-the-same-ids guarantee are those of a single writer, an outcome is
/// never committed in an earlier group than its signal, and a symbol's signals are published in seq order. Streams of
/// different symbols may commit (and publish) in either order.
/// </para>
/// </summary>
internal sealed partial class EventWriter : IDurableEngineOutput, IHostedService, IDisposable
{
    private readonly IEventStore _store;
    private readonly EventWriterOptions _options;
    private readonly CommitSignal _commits;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly string? _namespace;
    private readonly CandleWatermarks _watermarks;
    private readonly EventHandOff? _handOff;

    // One name per (symbol, timeframe), built once instead of concatenated for every closed candle.
    private readonly ConcurrentDictionary<StreamKey, string> _candleStreams = new();
    private readonly Channel<PendingEvent>[] _lanes;
    private readonly Lock _healthLock = new();
    private readonly CancellationTokenSource _abort = new();
    private readonly Counter<long> _persisted;
    private readonly Counter<long> _failures;
    private readonly Histogram<double> _lag;
    private readonly Histogram<double> _commitWait;
    private Task _run = Task.CompletedTask;
    private TaskCompletionSource _bytesReleased = NewReleaseSignal();
    private long _bufferedBytes;
    private int _disposed;
    private volatile bool _healthy = true;
    private volatile bool _started;
    private DateTimeOffset? _failingSince;
    private string? _lastError;

    [SuppressMessage("Reliability", "CA2000:Dispose objects before losing scope", Justification = "The IMeterFactory owns the meters it creates: one cached meter per name, disposed with the container.")]
    public EventWriter(
        IEventStore store,
        EventWriterOptions options,
        CommitSignal commits,
        TimeProvider time,
        IMeterFactory meterFactory,
        ILogger<EventWriter> logger,
        CandleWatermarks watermarks,
        string? streamNamespace = null,
        EventHandOff? handOff = null)
    {
        _namespace = streamNamespace;
        _handOff = handOff;
        _watermarks = watermarks;
        _store = store;
        _options = options;
        _commits = commits;
        _time = time;
        _logger = logger;

        // The outage buffer is shared out evenly: together the lanes never hold more than BufferCapacity events.
        var laneCapacity = Math.Max(1, options.BufferCapacity / options.CommitLanes);
        _lanes = new Channel<PendingEvent>[options.CommitLanes];
        for (var i = 0; i < _lanes.Length; i++)
        {
            _lanes[i] = Channel.CreateBounded<PendingEvent>(new BoundedChannelOptions(laneCapacity)
            {
                SingleReader = true,
                FullMode = BoundedChannelFullMode.Wait,
            });
        }

        var meter = meterFactory.Create(EventsMetrics.MeterName);
        _persisted = meter.CreateCounter<long>("signalstream_events_persisted_total", description: "Events committed to the event store.");
        _failures = meter.CreateCounter<long>("signalstream_store_append_failures_total", description: "Group commits that failed and were retried.");
        _lag = meter.CreateHistogram<double>(
            "signalstream_persistence_lag_seconds",
            unit: "s",
            description: "From an event's creation to its commit.",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60] });
        _commitWait = meter.CreateHistogram<double>(
            "signalstream_signal_commit_wait_seconds",
            unit: "s",
            description: "What the group commit adds to a signal's latency: from its hand-off to the writer to its publication after the commit.",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.0005, 0.001, 0.002, 0.003, 0.005, 0.0075, 0.01, 0.015, 0.025, 0.035, 0.05, 0.075, 0.1, 0.25, 1, 5, 30] });
        meter.CreateObservableGauge("signalstream_event_buffer_depth", () => BufferDepth, description: "Events waiting for a group commit.");
        meter.CreateObservableGauge("signalstream_event_buffer_bytes", () => BufferedBytes, unit: "By", description: "Bytes of serialized events waiting for a group commit (bounded by Storage:Writer:BufferBytes).");
        meter.CreateObservableGauge("signalstream_store_healthy", () => _healthy ? 1 : 0, description: "1 while the last append succeeded.");
    }

    /// <summary>Events waiting to be committed.</summary>
    public int BufferDepth
    {
        get
        {
            var depth = 0;
            foreach (var lane in _lanes)
            {
                depth += lane.Reader.Count;
            }

            return depth;
        }
    }

    /// <summary>Bytes of serialized events taken and not yet committed.</summary>
    public long BufferedBytes => Volatile.Read(ref _bufferedBytes);

    /// <summary>Whether the store accepted the last group commit; with the reason when it did not.</summary>
    public (bool Healthy, DateTimeOffset? FailingSince, string? LastError) Health
    {
        get
        {
            lock (_healthLock)
            {
                return (_healthy, _failingSince, _lastError);
            }
        }
    }

    public ValueTask OnCandleAsync(CandleUpdate update, CancellationToken cancellationToken)
    {
        if (!update.IsClosed)
        {
            // In-progress updates are a live view only; the closed candle carries the final values.
            return ValueTask.CompletedTask;
        }

        // Warm-up history after a restart overlaps what the store holds: it still feeds the features, but is not stored twice.
        var stream = update.Candle.Stream;
        if (_watermarks.Covers(stream, update.Candle.OpenTime))
        {
            return ValueTask.CompletedTask;
        }

        _watermarks.Advance(stream, update.Candle.OpenTime);
        var e = new CandleClosed(update.Exchange, update.Candle, update.Origin, update.EventTime, update.ReceivedAt);
        var streamId = _candleStreams.GetOrAdd(stream, static (key, ns) => EventStreams.Candles(key, ns), _namespace);
        return EnqueueAsync(stream.Symbol, streamId, EventStreams.CandlesType, ExpectedVersions.Any, e, null, cancellationToken);
    }

    // The signals stream's version is the seq: the store checks it, so a hole or a duplicate seq is caught here.
    public ValueTask OnSignalAsync(Signal signal, IEngineOutput committed, CancellationToken cancellationToken) =>
        EnqueueAsync(signal.Symbol, EventStreams.Signals(signal.Symbol, _namespace), EventStreams.SignalsType, signal.Seq - 1, new SignalIssued(signal), new SignalPublication(signal, committed), cancellationToken);

    public ValueTask OnShadowSignalAsync(Signal signal, CancellationToken cancellationToken) =>
        EnqueueAsync(signal.Symbol, EventStreams.ShadowSignals(signal.Symbol, _namespace), EventStreams.ShadowSignalsType, ExpectedVersions.Any, new ShadowSignalIssued(signal), null, cancellationToken);

    // Like the signals: the outcomes stream's version is the outcomeSeq, checked by the store. A shadow outcome is never
    // published and has no outcomeSeq, so it has a stream of its own and leaves no gap in the published ones.
    public ValueTask OnOutcomeAsync(SignalOutcome outcome, IEngineOutput committed, CancellationToken cancellationToken) => outcome.IsShadow
        ? EnqueueAsync(outcome.Symbol, EventStreams.ShadowOutcomes(outcome.Symbol, _namespace), EventStreams.ShadowOutcomesType, ExpectedVersions.Any, new SignalResolved(outcome), new OutcomePublication(outcome, committed), cancellationToken)
        : EnqueueAsync(outcome.Symbol, EventStreams.Outcomes(outcome.Symbol, _namespace), EventStreams.OutcomesType,
            outcome.OutcomeSeq > 0 ? outcome.OutcomeSeq - 1 : ExpectedVersions.Any, new SignalResolved(outcome), new OutcomePublication(outcome, committed), cancellationToken);

    /// <summary>
    /// A TradingView alert, in its symbol's lane ahead of the signal it causes; stored under its own id (the id the
    /// webhook answers with), so the store skips it if it is ever appended twice.
    /// </summary>
    public ValueTask OnAlertAsync(TradingViewAlertReceived alert, IEngineOutput committed, CancellationToken cancellationToken) =>
        EnqueueAsync(alert.Symbol, EventStreams.Alerts(alert.Symbol, _namespace), EventStreams.AlertsType, ExpectedVersions.Any, alert, new AlertPublication(alert, committed), cancellationToken, alert.Id);

    /// <summary>Records that a model version went live (or shadow).</summary>
    public ValueTask OnModelActivatedAsync(ModelActivated activated, CancellationToken cancellationToken) =>
        EnqueueAsync(string.Empty, EventStreams.Models(_namespace), EventStreams.ModelsType, ExpectedVersions.Any, activated, null, cancellationToken);

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        await _store.InitializeAsync(cancellationToken).ConfigureAwait(false);
        _started = true;
        var runs = new Task[_lanes.Length];
        for (var i = 0; i < runs.Length; i++)
        {
            var lane = _lanes[i].Reader;
            runs[i] = Task.Run(() => RunAsync(lane), CancellationToken.None);
        }

        _run = Task.WhenAll(runs);
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        foreach (var lane in _lanes)
        {
            lane.Writer.TryComplete();
        }

        var buffered = BufferDepth;
        try
        {
            await _run.WaitAsync(_options.ShutdownTimeout, cancellationToken).ConfigureAwait(false);
            Log.Drained(_logger, buffered);
        }
        catch (Exception ex) when (ex is TimeoutException or OperationCanceledException)
        {
            Log.ShutdownAbandoned(_logger, BufferDepth, _options.ShutdownTimeout);
            await _abort.CancelAsync().ConfigureAwait(false);
        }
    }

    public void Dispose()
    {
        // The container disposes this instance once per registration that resolves to it.
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            _abort.Cancel();
            _abort.Dispose();
        }
    }

    private ValueTask EnqueueAsync(
        string symbol, string streamId, string streamType, long expectedVersion, ISignalStreamEvent e, Publication? publish, CancellationToken cancellationToken, Guid? eventId = null)
    {
        var now = _time.GetUtcNow();
        var data = EventSerializer.Serialize(e, eventId ?? EventIds.NewVersion7(now), now);
        var pending = new PendingEvent(streamId, streamType, expectedVersion, data, publish, _handOff is not null && EventProjector.ReadsAsObject(data.Type) ? e : null);
        var lane = _lanes[LaneOf(symbol, _lanes.Length)].Writer;
        if (!TryReserve(data.Data.Length))
        {
            return WaitForBytesAsync(lane, pending, cancellationToken);
        }

        if (lane.TryWrite(pending))
        {
            return ValueTask.CompletedTask;
        }

        return WaitForRoomAsync(lane, pending, cancellationToken);
    }

    /// <summary>
    /// Counts <paramref name="bytes"/> into the outage buffer when they fit under <see cref="EventWriterOptions.BufferBytes"/>;
    /// an event larger than the whole bound fits only into an empty buffer, so it waits for room but never forever.
    /// </summary>
    private bool TryReserve(long bytes)
    {
        while (true)
        {
            var held = Volatile.Read(ref _bufferedBytes);
            if (held > 0 && held + bytes > _options.BufferBytes)
            {
                return false;
            }

            if (Interlocked.CompareExchange(ref _bufferedBytes, held + bytes, held) == held)
            {
                return true;
            }
        }
    }

    /// <summary>Gives back a committed group's bytes and wakes every producer waiting for room.</summary>
    private void ReleaseBytes(List<PendingEvent> batch)
    {
        long bytes = 0;
        foreach (var e in batch)
        {
            bytes += e.Data.Data.Length;
        }

        GiveBack(bytes);
    }

    private void GiveBack(long bytes)
    {
        Interlocked.Add(ref _bufferedBytes, -bytes);
        Interlocked.Exchange(ref _bytesReleased, NewReleaseSignal()).TrySetResult();
    }

    private static TaskCompletionSource NewReleaseSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);

    private async ValueTask WaitForBytesAsync(ChannelWriter<PendingEvent> lane, PendingEvent pending, CancellationToken cancellationToken)
    {
        if (!_started)
        {
            throw new InvalidOperationException("The event writer is not running: it starts with the host, before the engine.");
        }

        // Back-pressure by size: the buffered events' bytes reached Storage:Writer:BufferBytes (the store is slow or
        // down); the engine waits here until a commit gives some back, instead of dropping or growing without bound.
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _abort.Token);
        while (true)
        {
            // Taken before the check, so a release between the check and the wait still wakes this one.
            var released = Volatile.Read(ref _bytesReleased).Task;
            if (TryReserve(pending.Data.Data.Length))
            {
                break;
            }

            try
            {
                await released.WaitAsync(stop.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (_abort.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
            {
                throw new InvalidOperationException("The event writer has stopped (the host is shutting down); the event was not accepted.");
            }
        }

        if (!lane.TryWrite(pending))
        {
            await WaitForRoomAsync(lane, pending, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// The lane of a symbol: FNV-1a over its characters, so the routing does not depend on the process's string-hash seed.
    /// </summary>
    internal static int LaneOf(string symbol, int lanes)
    {
        var hash = 2166136261u;
        foreach (var c in symbol)
        {
            hash = (hash ^ c) * 16777619u;
        }

        return (int)(hash % (uint)lanes);
    }

    /// <summary>Writes an event whose bytes are already counted; if it is not accepted, its bytes are given back.</summary>
    private async ValueTask WaitForRoomAsync(ChannelWriter<PendingEvent> lane, PendingEvent pending, CancellationToken cancellationToken)
    {
        try
        {
            if (!_started)
            {
                throw new InvalidOperationException("The event writer is not running: it starts with the host, before the engine.");
            }

            // Back-pressure: the buffer is full (the store is slow or down); the engine waits here instead of dropping.
            await lane.WriteAsync(pending, cancellationToken).ConfigureAwait(false);
        }
        catch (ChannelClosedException ex)
        {
            GiveBack(pending.Data.Data.Length);
            throw new InvalidOperationException("The event writer has stopped (the host is shutting down); the event was not accepted.", ex);
        }
        catch
        {
            GiveBack(pending.Data.Data.Length);
            throw;
        }
    }

    /// <summary>
    /// One event on its way to the store; <paramref name="Publish"/> is what to publish once it is committed, and
    /// <paramref name="HandOff"/> the event itself when the projector takes it from the <see cref="EventHandOff"/>.
    /// </summary>
    private readonly record struct PendingEvent(string StreamId, string StreamType, long ExpectedVersion, EventData Data, Publication? Publish, ISignalStreamEvent? HandOff);

    /// <summary>What a committed event is published as, and to whom.</summary>
    private abstract record Publication(IEngineOutput To);

    private sealed record SignalPublication(Signal Signal, IEngineOutput To) : Publication(To);

    private sealed record OutcomePublication(SignalOutcome Outcome, IEngineOutput To) : Publication(To);

    private sealed record AlertPublication(TradingViewAlertReceived Alert, IEngineOutput To) : Publication(To);
}
