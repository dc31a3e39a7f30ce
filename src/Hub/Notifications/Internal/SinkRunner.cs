using System.Threading.Channels;
using SignalStream.EventStore;

namespace SignalStream.Hub.Notifications.Internal;

/// <summary>
/// One sink at work. Its source is the store, never a queue the engine writes into: the publish point only wakes it
/// (<see cref="Wake"/>), and it reads the symbol's committed signals and outcomes itself. So it sees only durable
/// signals, finds after a restart whatever it had not finished, and however slow or dead its receiver, the engine, the
/// hub and the other sinks never wait for it: when its memory bound is reached it just stops reading, and the rest
/// waits in the store.
/// </summary>
/// <remarks>
/// Three loops: the reader (this file and <c>.Read.cs</c>: wake-ups, due retries, reading the store), the workers
/// (<c>.Deliver.cs</c>: attempts, <see cref="SinkSettings.Concurrency"/> at a time) and the recorder
/// (<c>.Record.cs</c>: progress, failures and dead letters into the store, in group appends). State shared between them
/// sits behind <see cref="_gate"/>; nothing here is on the engine's path but <see cref="Wake"/>.
/// </remarks>
internal sealed partial class SinkRunner : IAsyncDisposable
{
    /// <summary>
    /// How long after a wake-up a symbol is read again, at growing intervals from <see cref="FirstRecheck"/>: a publish
    /// point that runs before the commit (or a PostgreSQL high-water mark) can wake a sink before the store shows the event.
    /// </summary>
    private static readonly TimeSpan HotFor = TimeSpan.FromSeconds(5);
    private static readonly TimeSpan FirstRecheck = TimeSpan.FromMilliseconds(25);
    private static readonly TimeSpan LastRecheck = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan StoreRetryMax = TimeSpan.FromSeconds(30);

    private readonly SinkSettings _settings;
    private readonly INotificationSender _sender;
    private readonly IEventStore _store;
    private readonly NotificationMetrics _metrics;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly TimeSpan _pollInterval;
    private readonly string[] _symbols;
    private readonly Dictionary<string, int> _symbolIndex;
    private readonly SymbolState[] _states;
    private readonly int[] _dirty;
    private readonly Lock _gate = new();

    // The reader's wake-up: one slot, further wake-ups dropped while it is full. A channel rather than a semaphore:
    // completing a waiting channel reader queues its continuation without allocating, where SemaphoreSlim's timed
    // wait cancels its timer on the releasing thread — the engine's publish path.
    private readonly Channel<byte> _wakeups = Channel.CreateBounded<byte>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite, SingleReader = true });
    private readonly Channel<Delivery> _ready = Channel.CreateUnbounded<Delivery>();
    private readonly PriorityQueue<Delivery, long> _retries = new();
    private readonly Channel<RecordWrite> _records = Channel.CreateUnbounded<RecordWrite>(new UnboundedChannelOptions { SingleReader = true });
    private readonly CancellationTokenSource _stopping = new();
    private readonly Random _random = new();
    private Task _run = Task.CompletedTask;
    private Task _recorder = Task.CompletedTask;
    private int _pendingCount;
    private long _pendingBytes;

    // Set when a read stopped for want of room; the next release of memory re-reads every symbol.
    private volatile bool _blockedOnRoom;
    private volatile bool _loaded;

    public SinkRunner(
        SinkSettings settings,
        INotificationSender sender,
        IReadOnlyList<string> symbols,
        IEventStore store,
        NotificationMetrics metrics,
        TimeSpan pollInterval,
        TimeProvider time,
        ILogger logger)
    {
        _settings = settings;
        _sender = sender;
        _store = store;
        _metrics = metrics;
        _pollInterval = pollInterval;
        _time = time;
        _logger = logger;
        _symbols = [.. symbols];
        _symbolIndex = new Dictionary<string, int>(StringComparer.Ordinal);
        for (var i = 0; i < _symbols.Length; i++)
        {
            _symbolIndex[_symbols[i]] = i;
        }

        _states = new SymbolState[_symbols.Length];
        _dirty = new int[_symbols.Length];
        Tags = [new("sink", settings.Label), new("type", settings.TypeName)];
    }

    public SinkSettings Settings => _settings;

    /// <summary>The metric labels of this sink: <c>sink</c> and <c>type</c>.</summary>
    public KeyValuePair<string, object?>[] Tags { get; }

    public long PendingCount => Volatile.Read(ref _pendingCount);

    public long PendingBytes => Interlocked.Read(ref _pendingBytes);

    /// <summary>
    /// How far past the settled point a sink reads: a notification retried for long holds a symbol's reading this far
    /// ahead of it at most, which bounds what a restart re-reads and the set of versions settled out of order.
    /// </summary>
    private int Window => _settings.MaxPending;

    /// <summary>
    /// Loads the sink's progress from the store (a new sink records that it starts at what is stored now), then starts
    /// its loops. Awaited by the node's start, before the engine publishes: a new sink's first notification is the first
    /// signal after the start, never one that raced with the loading.
    /// </summary>
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        using (var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _stopping.Token))
        {
            await LoadAsync(linked.Token).ConfigureAwait(false);
        }

        _loaded = true;
        _run = Task.Run(() => RunAsync(_stopping.Token));
    }

    /// <summary>
    /// Called on the publish path when <paramref name="symbol"/> has a new signal or outcome: flags it and wakes the
    /// reader. No allocation, no lock, no wait.
    /// </summary>
    public void Wake(string symbol)
    {
        if (!_symbolIndex.TryGetValue(symbol, out var i))
        {
            return;
        }

        if (_states[i] is { } state)
        {
            var now = _time.GetTimestamp();
            state.RecheckInterval = Ticks(FirstRecheck);
            state.NextCheck = now + state.RecheckInterval;
            state.HotUntil = now + Ticks(HotFor);
        }

        Volatile.Write(ref _dirty[i], 1);
        Signal();
    }

    /// <summary>
    /// Stops reading and attempting (an attempt in flight is abandoned: it stays pending, so it is tried again after the
    /// next start), writes how far each symbol got, and waits for the recorder to commit.
    /// </summary>
    public async Task StopAsync(TimeSpan timeout)
    {
        await _stopping.CancelAsync().ConfigureAwait(false);
        try
        {
            await _run.ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // Stopping is how the loops end.
        }

        if (_loaded)
        {
            lock (_gate)
            {
                for (var i = 0; i < _states.Length; i++)
                {
                    if (_states[i].HasUnrecordedProgress)
                    {
                        EnqueueRecord(i, NewRecord(i, NotificationRecords.Cursor), releases: null, deadLetter: false);
                    }
                }
            }

            if (PendingCount > 0)
            {
                Log.StoppedWithPending(_logger, _settings.Name, (int)PendingCount);
            }
        }

        _records.Writer.TryComplete();
        try
        {
            await _recorder.WaitAsync(timeout).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            // The store did not take the last records in time: the next start re-sends what they would have settled.
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stopping.CancelAsync().ConfigureAwait(false);
        _stopping.Dispose();
        _sender.Dispose();
    }

    private async Task RunAsync(CancellationToken stopping)
    {
        _recorder = Task.Run(RecordAsync, CancellationToken.None);
        var workers = new Task[_settings.Concurrency];
        for (var i = 0; i < workers.Length; i++)
        {
            workers[i] = Task.Run(() => WorkAsync(stopping), CancellationToken.None);
        }

        try
        {
            await ReadLoopAsync(stopping).ConfigureAwait(false);
        }
        finally
        {
            _ready.Writer.TryComplete();
            await Task.WhenAll(workers).ConfigureAwait(false);
        }
    }

    private void Signal() => _wakeups.Writer.TryWrite(0);

    /// <summary>Sleeps until <see cref="Signal"/> or <paramref name="timeout"/>.</summary>
    private async Task SleepAsync(TimeSpan timeout, CancellationToken stopping)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(stopping);
        deadline.CancelAfter(timeout);
        try
        {
            if (await _wakeups.Reader.WaitToReadAsync(deadline.Token).ConfigureAwait(false))
            {
                _wakeups.Reader.TryRead(out _);
            }
        }
        catch (OperationCanceledException) when (!stopping.IsCancellationRequested)
        {
            // The timeout: time for a due retry, a re-check or the poll.
        }
    }

    /// <summary>One symbol's progress through its two source streams, and what has been recorded of it.</summary>
    private sealed class SymbolState(string symbol, SourceProgress signals, SourceProgress outcomes)
    {
        public string Symbol { get; } = symbol;

        public SourceProgress Signals { get; } = signals;

        public SourceProgress Outcomes { get; } = outcomes;

        public long RecordedSignals { get; set; } = signals.Settled;

        public long RecordedOutcomes { get; set; } = outcomes.Settled;

        /// <summary>Stopwatch ticks until which the symbol is read again after a wake-up (<see cref="HotFor"/>).</summary>
        public long HotUntil { get; set; }

        /// <summary>When to read it again while hot (stopwatch ticks), and the interval after that.</summary>
        public long NextCheck { get; set; }

        public long RecheckInterval { get; set; }

        public bool HasUnrecordedProgress => Signals.Settled != RecordedSignals || Outcomes.Settled != RecordedOutcomes;

        public SourceProgress Of(bool isOutcome) => isOutcome ? Outcomes : Signals;
    }
}
