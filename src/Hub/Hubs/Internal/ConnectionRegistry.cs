using System.Collections.Concurrent;
using Microsoft.AspNetCore.SignalR;
using SignalStream.Contracts;
using SignalStream.Hub.FanOut;

namespace SignalStream.Hub.Hubs.Internal;

/// <summary>
/// Every connection of this node: limits, slow-consumer disconnects, token expiry and graceful shutdown.
/// </summary>
internal sealed partial class ConnectionRegistry : IHostedService, IDisposable
{
    private readonly ConcurrentDictionary<string, ConnectionState> _connections = new(StringComparer.Ordinal);
    private readonly SignalHubOptions _options;
    private readonly HubMetrics _metrics;
    private readonly TimeProvider _time;
    private readonly ILogger<ConnectionRegistry> _logger;
    private readonly IHostApplicationLifetime _lifetime;
    private readonly Lazy<SymbolFeeds> _feeds;
    private CancellationTokenRegistration _stoppingRegistration;
    private ITimer? _expiryTimer;
    private const string ShutdownReason = "The server is shutting down; reconnect (to another node) and resume with afterSeq.";
    private int _count;
    private volatile bool _stopping;

    public ConnectionRegistry(
        Microsoft.Extensions.Options.IOptions<SignalHubOptions> options,
        HubMetrics metrics,
        TimeProvider time,
        ILogger<ConnectionRegistry> logger,
        IHostApplicationLifetime lifetime,
        IServiceProvider services)
    {
        _options = options.Value;
        _metrics = metrics;
        _time = time;
        _logger = logger;
        _lifetime = lifetime;
        _feeds = new(services.GetRequiredService<SymbolFeeds>);
    }

    public int Count => Volatile.Read(ref _count);

    /// <summary>True once the node is shutting down: new connections and subscriptions are refused.</summary>
    public bool IsStopping => _stopping;

    public ConnectionState? Find(string connectionId) => _connections.GetValueOrDefault(connectionId);

    /// <summary>The connections open now (a moment's view, for inspection).</summary>
    public IReadOnlyCollection<ConnectionState> Open => [.. _connections.Values];

    public ConnectionState Add(HubConnectionContext context)
    {
        var state = new ConnectionState(context, _options.OutboundQueueLimit,
            new TokenBucket(_time, _options.InvocationsPerSecond, _options.InvocationBurst), _time);
        _connections[context.ConnectionId] = state;
        Interlocked.Increment(ref _count);
        _metrics.ConnectionOpened();
        if (_stopping)
        {
            // Connected in the window between the 503 check and the shutdown sweep: it would miss its close message.
            state.Close(ShutdownReason, allowReconnect: true);
        }

        return state;
    }

    public async Task RemoveAsync(HubConnectionContext context)
    {
        if (!_connections.TryRemove(context.ConnectionId, out var state))
        {
            return;
        }

        Interlocked.Decrement(ref _count);
        _metrics.ConnectionClosed();
        state.Abort();
        state.OnRemoved();
        var (signals, candles) = state.TakeAll();
        _metrics.SubscriptionsChanged(-(signals.Length + candles.Length));
        foreach (var subscription in signals)
        {
            if (_feeds.Value.Find(subscription.Symbol) is { } feed)
            {
                await feed.UnsubscribeAsync(state).ConfigureAwait(false);
            }
        }

        foreach (var stream in candles)
        {
            _feeds.Value.Find(stream.Symbol)?.RemoveCandleSubscriber(stream.Timeframe, state);
        }
    }

    /// <summary>Cuts off a connection whose queue is full (<c>Hub:OutboundQueueLimit</c> frames waiting).</summary>
    public void DisconnectSlowConsumer(ConnectionState connection) => CutOff(connection,
        $"Disconnected as a slow consumer: more than {_options.OutboundQueueLimit} messages were waiting to be sent to this client. " +
        "Read faster or subscribe to less, then reconnect and resume with afterSeq.");

    /// <summary>
    /// Cuts off every connection whose transport has taken nothing for <c>Hub:SlowConsumerMaxLag</c> while a frame waits,
    /// unless so many are stalled that the node, not its clients, is what cannot keep up.
    /// </summary>
    /// <remarks>
    /// "Slow" is "makes no progress while its peers do", not "is behind": a client that stopped reading completes no
    /// write at all. A node past its capacity, or starved of CPU, stalls many transports at once (its readers then wait on
    /// it); cutting them would turn an overload into a reconnect storm, so when more than <see cref="NodeStallShare"/> of
    /// the connections (and <see cref="NodeStallFloor"/>) have taken nothing for a fifth of the lag, nobody is cut for
    /// lag. A client that reads, but slower than it is sent, fills its queue instead and is cut at
    /// <c>Hub:OutboundQueueLimit</c> either way.
    /// </remarks>
    internal void CutSlowConsumers()
    {
        // A whole-node stall (the machine froze for a few seconds, or the node is past its capacity) shows as many
        // connections stalled at the same moment, though each passes the lag at its own time; so the stalled ones are
        // counted from a fifth of the lag on, not only those already past it.
        var lag = _options.SlowConsumerMaxLag;
        var early = lag / 5;
        List<ConnectionState>? candidates = null;
        var stalled = 0;
        var total = 0;
        foreach (var connection in _connections.Values)
        {
            total++;
            var since = connection.StalledSince;
            if (since == 0 || connection.IsClosing)
            {
                continue;
            }

            var elapsed = _time.GetElapsedTime(since);
            if (elapsed > early)
            {
                stalled++;
            }

            if (elapsed > lag)
            {
                (candidates ??= []).Add(connection);
            }
        }

        if (candidates is null)
        {
            return;
        }

        if (stalled > Math.Max(NodeStallFloor, total * NodeStallShare))
        {
            Log.NodeStalled(_logger, stalled, total, early);
            return;
        }

        foreach (var connection in candidates)
        {
            CutOff(connection,
                $"Disconnected as a slow consumer: this client took no message for {lag.TotalSeconds:0.###} s. " +
                "Read faster or subscribe to less, then reconnect and resume with afterSeq.");
        }
    }

    /// <summary>Stalled connections beyond this share of all (and <see cref="NodeStallFloor"/>) mean the node is behind.</summary>
    internal const double NodeStallShare = 0.1;

    internal const int NodeStallFloor = 50;

    private void CutOff(ConnectionState connection, string reason)
    {
        if (connection.CutOff(reason))
        {
            _metrics.SlowConsumerDisconnected();
            Log.SlowConsumer(_logger, connection.Id, reason);
        }
    }

    public Task StartAsync(CancellationToken cancellationToken)
    {
        // Registered after SignalR's HttpConnectionManager (created when the hub was mapped), and cancellation callbacks
        // run last-registered first: this one runs before SignalR's, which cancels every transport's pending send.
        _stoppingRegistration = _lifetime.ApplicationStopping.Register(BeginShutdown);
        // Slow consumers are looked for at least twice per Hub:SlowConsumerMaxLag, so one is cut within 1.5 times it.
        var tick = TimeSpan.FromTicks(Math.Min(TimeSpan.TicksPerSecond, _options.SlowConsumerMaxLag.Ticks / 2));
        _expiryTimer = _time.CreateTimer(_ => OnTick(), null, tick, tick);
        return Task.CompletedTask;
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        BeginShutdown(); // already done by ApplicationStopping, unless the host was stopped without it
        var writers = Task.WhenAll(_connections.Values.Select(c => c.Writer));
        await Task.WhenAny(writers, Task.Delay(_options.ShutdownDrainTimeout, _time, cancellationToken)).ConfigureAwait(false);
    }

    /// <summary>
    /// Closes every connection with reconnect allowed, after what is already queued for it (so no delivered-to-queue
    /// signal is lost), then waits, at most <c>Hub:ShutdownDrainTimeout</c>, until the transports have sent it all.
    /// </summary>
    /// <remarks>
    /// This runs inside the <c>ApplicationStopping</c> callbacks, and it blocks on purpose: it is the last moment before
    /// SignalR's own callback tears the transports down (cancelling sends in flight, which is how close messages used to
    /// be lost in about one run in three), whether the stop came from <c>StopAsync</c> or from SIGTERM (the console
    /// lifetime fires ApplicationStopping before any hosted service is stopped, so a hosted service's StopAsync or
    /// StoppingAsync is too late). The host documents that shutdown waits for these callbacks; the wait is bounded.
    /// </remarks>
    private void BeginShutdown()
    {
        if (_stopping)
        {
            return;
        }

        _stopping = true;
        var connections = _connections.Values.ToArray();
        Log.ShuttingDown(_logger, connections.Length);
        foreach (var connection in connections)
        {
            connection.Close(ShutdownReason, allowReconnect: true);
        }

        if (connections.Length == 0)
        {
            return;
        }

        var finished = Task.WhenAll(connections.Select(c => c.Finished));
        var drained = finished.Wait(_options.ShutdownDrainTimeout); // deliberate bounded blocking wait: see remarks
        if (!drained)
        {
            Log.DrainTimedOut(_logger, connections.Count(c => !c.Finished.IsCompleted), _options.ShutdownDrainTimeout);
        }
    }

    private void OnTick()
    {
        CloseExpired();
        CutSlowConsumers();
    }

    /// <summary>Closes connections whose access token has expired, allowing reconnect so the client fetches a new one.</summary>
    internal void CloseExpired()
    {
        var now = _time.GetUtcNow().ToUnixTimeMilliseconds();
        foreach (var connection in _connections.Values)
        {
            if (connection.ExpiresAtMs > 0 && connection.ExpiresAtMs <= now && !connection.IsClosing)
            {
                Log.TokenExpired(_logger, connection.Id);
                connection.Close("The access token expired; reconnect with a fresh token.", allowReconnect: true);
            }
        }
    }

    public void Dispose()
    {
        _expiryTimer?.Dispose();
        _stoppingRegistration.Dispose();
    }

    private static partial class Log
    {
        [LoggerMessage(5100, LogLevel.Warning, "Connection {ConnectionId} cut off: {Reason}")]
        public static partial void SlowConsumer(ILogger logger, string connectionId, string reason);

        [LoggerMessage(5104, LogLevel.Warning, "{Stalled} of {Total} connections took no message for over {Stall}: the node is behind, not its clients; none is cut for lag")]
        public static partial void NodeStalled(ILogger logger, int stalled, int total, TimeSpan stall);

        [LoggerMessage(5101, LogLevel.Information, "Connection {ConnectionId} closed: its access token expired")]
        public static partial void TokenExpired(ILogger logger, string connectionId);

        [LoggerMessage(5102, LogLevel.Information, "Shutting down: closing {Count} connections with reconnect allowed")]
        public static partial void ShuttingDown(ILogger logger, int count);

        [LoggerMessage(5103, LogLevel.Warning, "Shutting down: {Count} connections had not finished sending within Hub:ShutdownDrainTimeout ({Timeout}); SignalR ends them now")]
        public static partial void DrainTimedOut(ILogger logger, int count, TimeSpan timeout);
    }
}
