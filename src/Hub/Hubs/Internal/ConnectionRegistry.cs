using System.Collections.Concurrent;
using Microsoft.AspNetCore.SignalR;
using SignalStream.Contracts;
using SignalStream.Hub.Auth;
using SignalStream.Hub.FanOut;

namespace SignalStream.Hub.Hubs.Internal;

/// <summary>
/// Every connection of this node: limits, slow-consumer disconnects, token expiry and graceful shutdown.
/// </summary>
internal sealed partial class ConnectionRegistry : IHostedService, IDisposable
{
    private readonly ConcurrentDictionary<string, ConnectionState> _connections = new(StringComparer.Ordinal);
    // The hub's own side of each connection (admission slot, invocation budget); fan-out sees only ConnectionState.
    private readonly ConcurrentDictionary<string, ConnectionGuard> _guards = new(StringComparer.Ordinal);
    private readonly ConnectionAdmission _admission;
    private readonly SignalHubOptions _options;
    private readonly HubMetrics _metrics;
    private readonly TimeProvider _time;
    private readonly ILogger<ConnectionRegistry> _logger;
    private readonly IHostApplicationLifetime _lifetime;
    private readonly Lazy<SymbolFeeds> _feeds;
    private CancellationTokenRegistration _stoppingRegistration;
    private ITimer? _expiryTimer;
    private readonly TimeSpan _tick;
    private long _lastSweep;
    private long _keepingUpSince;
    private const string ShutdownReason = "The server is shutting down; reconnect (to another node) and resume with afterSeq.";
    private int _count;
    private volatile bool _stopping;

    public ConnectionRegistry(
        Microsoft.Extensions.Options.IOptions<SignalHubOptions> options,
        ConnectionAdmission admission,
        HubMetrics metrics,
        TimeProvider time,
        ILogger<ConnectionRegistry> logger,
        IHostApplicationLifetime lifetime,
        IServiceProvider services)
    {
        _options = options.Value;
        _admission = admission;
        _metrics = metrics;
        _time = time;
        _logger = logger;
        _lifetime = lifetime;
        _feeds = new(services.GetRequiredService<SymbolFeeds>);
        Penalties = new ReconnectPenalties(_options.ReconnectPenalty, time, metrics);
        // Slow consumers are looked for at least twice per Hub:SlowConsumerMaxLag, so one is cut within 1.5 times it.
        _tick = TimeSpan.FromTicks(Math.Min(TimeSpan.TicksPerSecond, _options.SlowConsumerMaxLag.Ticks / 2));
        _lastSweep = _keepingUpSince = time.GetTimestamp();
        metrics.ObserveQueuedBytes(QueuedBytes);
    }

    /// <summary>The caps every connection is counted against, from its connect request on.</summary>
    public ConnectionAdmission Admission => _admission;

    /// <summary>The clients refused new connections for a while after one was closed for flooding or cut off as slow.</summary>
    public ReconnectPenalties Penalties { get; }

    public int Count => Volatile.Read(ref _count);

    /// <summary>True once the node is shutting down: new connections and subscriptions are refused.</summary>
    public bool IsStopping => _stopping;

    public ConnectionState? Find(string connectionId) => _connections.GetValueOrDefault(connectionId);

    /// <summary>The admission slot and invocation budget of a registered connection.</summary>
    public ConnectionGuard? FindGuard(string connectionId) => _guards.GetValueOrDefault(connectionId);

    /// <summary>The connections open now (a moment's view, for inspection).</summary>
    public IReadOnlyCollection<ConnectionState> Open => [.. _connections.Values];

    /// <summary>A budget of <c>Hub:InvocationsPerSecond</c>, bursts of <c>Hub:InvocationBurst</c>.</summary>
    public InvocationBudget NewBudget() => new(_time, _options.InvocationsPerSecond, _options.InvocationBurst);

    /// <summary>
    /// Registers a connection whose SignalR handshake is done. Its guard comes from its connect request
    /// (<see cref="ConnectionGuard.Current"/>); a connection without one (long polling) is admitted here, and one the
    /// caps refuse is registered with <see cref="ConnectionState.Refused"/> set, for the hub to close.
    /// </summary>
    public ConnectionState Add(HubConnectionContext context)
    {
        var guard = ConnectionGuard.Current ?? new ConnectionGuard(NewBudget(), null, null, null);
        string? refused = null;
        if (guard.Slot is null)
        {
            var refusal = _admission.TryAdmit(guard.RemoteIp, guard.Subject, out var slot);
            guard.Slot = slot;
            guard.ReleasesOnRemove = true;
            refused = refusal == AdmissionRefusal.None ? null : _admission.Describe(refusal);
        }

        // SignalR's own replies past Hub:OutboundQueueBytes (a client that sends requests faster than it reads the
        // replies) cut the connection off like fan-out frames past it.
        var state = new ConnectionState(context, _options, _time, DisconnectSlowConsumer) { Refused = refused };
        guard.Registered(state);
        _guards[context.ConnectionId] = guard;
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
        if (_guards.TryRemove(context.ConnectionId, out var guard) && guard.ReleasesOnRemove)
        {
            guard.Slot?.Release();
        }

        state.Abort(); // first: a candle subscription racing this sees it ended (SymbolFeed.AddCandleSubscriber)
        state.OnRemoved();
        var (signals, candles) = state.TakeAll();
        _metrics.SubscriptionsChanged(-(signals.Length + candles.Length));
        foreach (var subscription in signals)
        {
            await _feeds.Value.UnsubscribeAsync(subscription.Symbol, state).ConfigureAwait(false);
        }

        foreach (var stream in candles)
        {
            _feeds.Value.RemoveCandleSubscriber(stream, state);
        }
    }

    /// <summary>Cuts off a connection whose queue is full (<c>Hub:OutboundQueueLimit</c> frames or
    /// <c>Hub:OutboundQueueBytes</c> bytes waiting).</summary>
    public void DisconnectSlowConsumer(ConnectionState connection)
    {
        if (CutOff(connection, QueueFullReason, CutReasons.Queue))
        {
            _metrics.QueueOverflowed();
        }
    }

    private string QueueFullReason => field ??=
        $"Disconnected as a slow consumer: more than {_options.OutboundQueueBytes} bytes (or {_options.OutboundQueueLimit} messages) were waiting to be sent to this client. " +
        "Read faster, subscribe to less or send fewer requests, then reconnect and resume with afterSeq.";

    /// <summary>
    /// Lets a hub call through, or refuses it: every call the node answers takes a token from the connection's
    /// <see cref="InvocationBudget"/> (refused ones too: unknown methods, arguments that do not bind). Returns null when
    /// the call may go on, else the refusal to send back; a client whose refusals outrun the rate is closed for flooding.
    /// </summary>
    public string? TryAdmitCall(ConnectionGuard guard)
    {
        if (guard.Budget.TryTake())
        {
            return null;
        }

        _metrics.RateLimited();
        if (guard.Budget.CountRefusal() && guard.State is { IsClosing: false } state)
        {
            _metrics.FloodDisconnected();
            Log.Flooding(_logger, state.Id);
            Penalties.Penalize(ClientKeys.Of(guard.Subject, guard.RemoteIp));
            state.Close(
                $"Closed for invocation flooding: calls kept coming after they were refused. Keep under {_options.InvocationsPerSecond} invocations per second (bursts of {_options.InvocationBurst}) and wait before retrying a refused call.",
                allowReconnect: false);
        }

        return RateLimitReason;
    }

    private string RateLimitReason => field ??=
        $"Rate limit exceeded: at most {_options.InvocationsPerSecond} invocations per second (bursts of {_options.InvocationBurst}) per connection; slow down and retry.";

    /// <summary>
    /// Cuts off every connection that has made no progress for <c>Hub:SlowConsumerMaxLag</c> through its client's own
    /// doing: something waits for it, its transport has taken nothing, and its socket's kernel buffer is full.
    /// </summary>
    /// <remarks>
    /// A node that is behind (starved of CPU, its thread pool backed up, or the machine frozen for a moment) stalls its
    /// readers' transports too, but the clients are not to blame, so what counts is the node's own progress, measured by
    /// the node: a sweep that runs more than half the lag late says the node was not keeping up, and stall time before
    /// the node has kept up again for the lag is not held against anyone. How many connections stall says nothing: 500
    /// clients that stop reading are 500 slow consumers. And a reader whose kernel buffer has room is waiting for the
    /// node, not the other way round: it is never cut for lag. A client that reads, but slower than it is sent, fills
    /// its queue instead and is cut at the queue bound either way.
    /// </remarks>
    internal void CutSlowConsumers()
    {
        var lag = _options.SlowConsumerMaxLag;
        var now = _time.GetTimestamp();
        var nodeKeptUpFor = _time.GetElapsedTime(Volatile.Read(ref _keepingUpSince), now);
        if (nodeKeptUpFor <= lag)
        {
            return;
        }

        foreach (var connection in _connections.Values)
        {
            var since = connection.StalledSince;
            // A closing connection is not skipped: a close (token expiry, flooding) queued behind a write its client never
            // takes would otherwise keep the connection, its slot and its pipe past the token's end, for good.
            if (since == 0 || _time.GetElapsedTime(since, now) <= lag || !connection.IsHeldUpByClient())
            {
                continue;
            }

            CutOff(connection,
                $"Disconnected as a slow consumer: this client took no message for {lag.TotalSeconds:0.###} s. " +
                "Read faster or subscribe to less, then reconnect and resume with afterSeq.", CutReasons.Lag);
        }
    }

    /// <summary>
    /// The periodic sweep: measures how late it runs (the node's own lag), then closes expired tokens and cuts slow
    /// consumers.
    /// </summary>
    internal void Sweep()
    {
        var now = _time.GetTimestamp();
        var delay = _time.GetElapsedTime(Interlocked.Exchange(ref _lastSweep, now), now) - _tick;
        _metrics.SweepDelayed(delay > TimeSpan.Zero ? delay : TimeSpan.Zero);
        if (delay > _options.SlowConsumerMaxLag / 2)
        {
            Volatile.Write(ref _keepingUpSince, now);
            Log.NodeBehind(_logger, delay);
        }

        CloseExpired();
        CutSlowConsumers();
        CutOverQueuedBytesBudget();
        Penalties.Prune();
    }

    /// <summary>
    /// Keeps what connections' queues hold together under two bounds: one client address's
    /// (<c>Hub:MaxQueuedBytesPerIp</c>) and the node's (<c>Hub:MaxQueuedBytes</c>). Past one, the connections holding the
    /// most are cut, largest first, until the total is back under. Each queue has its own bound
    /// (<c>Hub:OutboundQueueBytes</c>); without these their sum is the connection count times it (10,000 × 4 MiB), and
    /// many clients that read slowly, or one address's <c>Hub:MaxConnectionsPerIp</c> connections, could hold it. Off the
    /// delivery path: the sweep's once-a-second sum is the only cost, and connections are grouped by address only when
    /// the node's total could put one address past its bound.
    /// </summary>
    internal void CutOverQueuedBytesBudget()
    {
        var total = QueuedBytes();
        var perAddress = _options.MaxQueuedBytesPerIp;
        if (perAddress != 0 && total > perAddress)
        {
            var byAddress = new Dictionary<string, List<ConnectionState>>(StringComparer.Ordinal);
            foreach (var (id, connection) in _connections)
            {
                if (connection.Output.QueuedBytes == 0)
                {
                    continue;
                }

                var key = ClientKeys.AddressOf(_guards.GetValueOrDefault(id)?.RemoteIp)?.ToString() ?? "unknown";
                if (!byAddress.TryGetValue(key, out var group))
                {
                    byAddress[key] = group = [];
                }

                group.Add(connection);
            }

            foreach (var (address, group) in byAddress)
            {
                total -= CutLargestUntilUnder(group, perAddress, CutReasons.AddressBytes, queued =>
                    $"Disconnected: this client's address ({address}) held more than Hub:MaxQueuedBytesPerIp ({perAddress} bytes) unsent " +
                    $"across its connections, and this one held one of the largest ({queued} bytes). Read faster or subscribe to less, then reconnect and resume with afterSeq.");
            }
        }

        var budget = _options.MaxQueuedBytes;
        if (budget != 0 && total > budget)
        {
            CutLargestUntilUnder(_connections.Values, budget, CutReasons.NodeBytes, queued =>
                $"Disconnected: the node's outbound queues together passed Hub:MaxQueuedBytes ({budget} bytes), and this " +
                $"connection held one of the largest ({queued} bytes unsent). Read faster or subscribe to less, then reconnect and resume with afterSeq.");
        }
    }

    /// <summary>Cuts the connections of <paramref name="connections"/> holding the most, largest first, until what they hold
    /// together is at most <paramref name="budget"/>; returns the bytes the cuts gave back.</summary>
    private long CutLargestUntilUnder(IEnumerable<ConnectionState> connections, long budget, string label, Func<long, string> reason)
    {
        var largestFirst = connections
            .Select(c => (Connection: c, Queued: c.Output.QueuedBytes))
            .Where(c => c.Queued > 0)
            .OrderByDescending(c => c.Queued)
            .ToList();
        var total = largestFirst.Sum(c => c.Queued);
        var freed = 0L;
        foreach (var (connection, queued) in largestFirst)
        {
            if (total - freed <= budget)
            {
                break;
            }

            if (CutOff(connection, reason(queued), label))
            {
                freed += queued;
            }
        }

        return freed;
    }

    private long QueuedBytes()
    {
        long total = 0;
        foreach (var connection in _connections.Values)
        {
            total += connection.Output.QueuedBytes;
        }

        return total;
    }

    private bool CutOff(ConnectionState connection, string reason, string label)
    {
        if (!connection.CutOff(reason))
        {
            return false;
        }

        _metrics.SlowConsumerDisconnected(label);
        Log.SlowConsumer(_logger, connection.Id, reason);
        if (_guards.TryGetValue(connection.Id, out var guard))
        {
            Penalties.Penalize(ClientKeys.Of(guard.Subject, guard.RemoteIp));
        }

        return true;
    }

    public Task StartAsync(CancellationToken cancellationToken)
    {
        // Registered after SignalR's HttpConnectionManager (created when the hub was mapped), and cancellation callbacks
        // run last-registered first: this one runs before SignalR's, which cancels every transport's pending send.
        _stoppingRegistration = _lifetime.ApplicationStopping.Register(BeginShutdown);
        _lastSweep = _keepingUpSince = _time.GetTimestamp();
        _expiryTimer = _time.CreateTimer(_ => Sweep(), null, _tick, _tick);
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

        [LoggerMessage(5104, LogLevel.Warning, "The connection sweep ran {Delay} late: the node is behind (CPU or thread pool), so stalls until it has kept up for Hub:SlowConsumerMaxLag are not held against clients")]
        public static partial void NodeBehind(ILogger logger, TimeSpan delay);

        [LoggerMessage(5021, LogLevel.Warning, "Connection {ConnectionId} closed for invocation flooding")]
        public static partial void Flooding(ILogger logger, string connectionId);

        [LoggerMessage(5101, LogLevel.Information, "Connection {ConnectionId} closed: its access token expired")]
        public static partial void TokenExpired(ILogger logger, string connectionId);

        [LoggerMessage(5102, LogLevel.Information, "Shutting down: closing {Count} connections with reconnect allowed")]
        public static partial void ShuttingDown(ILogger logger, int count);

        [LoggerMessage(5103, LogLevel.Warning, "Shutting down: {Count} connections had not finished sending within Hub:ShutdownDrainTimeout ({Timeout}); SignalR ends them now")]
        public static partial void DrainTimedOut(ILogger logger, int count, TimeSpan timeout);
    }
}
