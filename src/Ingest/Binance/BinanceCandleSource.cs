using System.Diagnostics.CodeAnalysis;
using System.Diagnostics.Metrics;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using SignalStream.Contracts;
using SignalStream.Ingest.Binance.Internal;

namespace SignalStream.Ingest.Binance;

/// <summary>
/// Binance spot kline streams as a candle source: REST warm-up, then combined WebSocket streams with every closed
/// candle delivered exactly once and in order per stream, gaps and late closes repaired from REST.
/// </summary>
/// <remarks>The protocol as used here is written down in <c>docs/binance.md</c>.</remarks>
[SuppressMessage("Design", "CA1001:Types that own disposable fields should be disposable", Justification = "Its SemaphoreSlim is only awaited (no AvailableWaitHandle), so it holds nothing to release.")]
internal sealed partial class BinanceCandleSource : ICandleSource
{
    public const string ExchangeName = "binance";

    private readonly IngestOptions _ingest;
    private readonly IStreamResumePoints? _resumePoints;
    private readonly SemaphoreSlim _updateLock = new(1, 1);
    private readonly Dictionary<StreamKey, StreamTracker> _active = [];
    private readonly Dictionary<StreamKey, StreamTracker> _retired = [];
    private readonly List<BinanceConnection> _connections = [];
    private SymbolTable _symbols = new([]);
    private CandleUpdateChannel? _channel;
    private CancellationToken _runToken;
    private int _nextConnectionId;

    public BinanceCandleSource(
        IOptions<IngestOptions> ingest,
        IOptions<BinanceOptions> options,
        IHttpClientFactory httpClientFactory,
        TimeProvider time,
        IMeterFactory meterFactory,
        CandleUpdateChannel channel,
        ILogger<BinanceCandleSource> logger,
        IStreamResumePoints? resumePoints = null)
        : this(ingest.Value, options.Value, httpClientFactory.CreateClient(HttpClientName), time, meterFactory, channel, logger, resumePoints)
    {
    }

    internal BinanceCandleSource(
        IngestOptions ingest,
        BinanceOptions options,
        HttpClient http,
        TimeProvider time,
        IMeterFactory meterFactory,
        CandleUpdateChannel channel,
        ILogger logger,
        IStreamResumePoints? resumePoints = null)
    {
        _ingest = ingest;
        _resumePoints = resumePoints;
        Options = options;
        Time = time;
        Logger = logger;
        Metrics = new IngestMetrics(meterFactory, channel, ExchangeName);
        Rest = new BinanceRestClient(http, options, time, logger);
        ConnectionLimiter = new SlidingWindowLimiter(options.MaxConnectionsPerFiveMinutes, TimeSpan.FromMinutes(5), time);
    }

    internal const string HttpClientName = "SignalStream.Binance";

    public string Exchange => ExchangeName;

    internal BinanceOptions Options { get; }

    /// <summary>Where each stream stopped before this run (the store's watermarks, from the host), if known.</summary>
    internal IStreamResumePoints? ResumePoints => _resumePoints;

    internal TimeProvider Time { get; }

    internal ILogger Logger { get; }

    internal IngestMetrics Metrics { get; }

    internal BinanceRestClient Rest { get; }

    internal SlidingWindowLimiter ConnectionLimiter { get; }

    /// <summary>The current routing table; replaced as a whole when the streams change.</summary>
    internal SymbolTable Symbols => Volatile.Read(ref _symbols);

    /// <summary>Connections now in use (for tests and diagnostics).</summary>
    internal int ConnectionCount
    {
        get
        {
            lock (_connections)
            {
                return _connections.Count;
            }
        }
    }

    /// <summary>The running connections' tasks (for tests: none may end while the source runs).</summary>
    internal Task[] ConnectionTasks
    {
        get
        {
            lock (_connections)
            {
                return _connections.Select(c => c.Running).OfType<Task>().ToArray();
            }
        }
    }

    /// <summary>The largest receive buffer any connection has grown (for tests of <see cref="BinanceOptions.MaxMessageBytes"/>).</summary>
    internal int LargestReceiveBuffer
    {
        get
        {
            lock (_connections)
            {
                return _connections.Max(c => c.LargestBuffer);
            }
        }
    }

    public async Task RunAsync(CandleUpdateChannel output, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(output);
        if (Interlocked.CompareExchange(ref _channel, output, null) is not null)
        {
            throw new InvalidOperationException("The Binance source is already running.");
        }

        _runToken = cancellationToken;
        var streams = _ingest.ResolvedStreams();
        Log.Starting(Logger, streams.Count, _ingest.WarmupCandles,
            (streams.Count + Options.MaxStreamsPerConnection - 1) / Options.MaxStreamsPerConnection, Options.StreamUrl);
        await UpdateStreamsAsync(streams, cancellationToken).ConfigureAwait(false);

        try
        {
            await Task.Delay(Timeout.InfiniteTimeSpan, Time, cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // Normal stop; wait for the connections to wind down below.
        }

        Task[] running;
        lock (_connections)
        {
            running = _connections.Select(c => c.Running).OfType<Task>().ToArray();
        }

        await Task.WhenAll(running).ConfigureAwait(false);
    }

    /// <summary>
    /// Changes the streams at runtime: new streams are warmed up from REST and subscribed (on a connection with room,
    /// or a new one), removed streams are unsubscribed. A stream removed and added again resumes where it stopped, its
    /// gap backfilled, so nothing is delivered twice.
    /// </summary>
    internal async Task UpdateStreamsAsync(IReadOnlyList<StreamKey> streams, CancellationToken cancellationToken)
    {
        if (_channel is null)
        {
            throw new InvalidOperationException("Start the source with RunAsync before changing its streams.");
        }

        await _updateLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var wanted = streams.ToHashSet();
            var removed = _active.Keys.Where(k => !wanted.Contains(k)).ToList();
            var added = wanted.Where(k => !_active.ContainsKey(k)).ToList();

            var touched = new HashSet<BinanceConnection>();
            foreach (var key in removed)
            {
                var tracker = _active[key];
                _active.Remove(key);
                _retired[key] = tracker;
                if (tracker.Owner is { } owner)
                {
                    owner.Remove(tracker);
                    touched.Add(owner);
                }

                tracker.Owner = null;
            }

            var newTrackers = added.Select(k => _retired.Remove(k, out var t) ? t : new StreamTracker(k)).ToList();
            await WarmupAsync(newTrackers.Where(t => t.LastClosedOpenTime == StreamTracker.None).ToList(), cancellationToken)
                .ConfigureAwait(false);

            foreach (var tracker in newTrackers)
            {
                _active[tracker.Key] = tracker;
            }

            Volatile.Write(ref _symbols, new SymbolTable(_active.Values));

            var started = new List<BinanceConnection>();
            lock (_connections)
            {
                foreach (var tracker in newTrackers)
                {
                    var connection = _connections.FirstOrDefault(c => c.StreamCount < Options.MaxStreamsPerConnection);
                    if (connection is null)
                    {
                        connection = new BinanceConnection(this, ++_nextConnectionId, _runToken);
                        _connections.Add(connection);
                        started.Add(connection);
                    }

                    tracker.Owner = connection;
                    connection.Add(tracker);
                    touched.Add(connection);
                }

                foreach (var empty in _connections.Where(c => c.StreamCount == 0).ToList())
                {
                    empty.Stop();
                    _connections.Remove(empty);
                    touched.Remove(empty);
                }
            }

            foreach (var connection in touched.Except(started))
            {
                await connection.SyncSubscriptionsAsync(cancellationToken).ConfigureAwait(false);
            }

            foreach (var connection in started)
            {
                connection.Start();
            }

            Log.StreamsChanged(Logger, added.Count, removed.Count, _active.Count);
        }
        finally
        {
            _updateLock.Release();
        }
    }
}
