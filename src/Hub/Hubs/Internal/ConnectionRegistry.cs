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

    public ConnectionState Add(HubConnectionContext context)
    {
        var state = new ConnectionState(context, _options.OutboundQueueLimit,
            new TokenBucket(_time, _options.InvocationsPerSecond, _options.InvocationBurst));
        _connections[context.ConnectionId] = state;
        Interlocked.Increment(ref _count);
        _metrics.ConnectionOpened();
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

    public void DisconnectSlowConsumer(ConnectionState connection)
    {
        if (connection.Abort())
        {
            _metrics.SlowConsumerDisconnected();
            Log.SlowConsumer(_logger, connection.Id, _options.OutboundQueueLimit);
        }
    }

    public Task StartAsync(CancellationToken cancellationToken)
    {
        // Registered after SignalR's HttpConnectionManager (created when the hub was mapped) and cancellation callbacks
        // run last-registered first: clients get their close message, with reconnect allowed, before SignalR tears the
        // transports down.
        _stoppingRegistration = _lifetime.ApplicationStopping.Register(BeginShutdown);
        _expiryTimer = _time.CreateTimer(_ => CloseExpired(), null, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(1));
        return Task.CompletedTask;
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        BeginShutdown();
        var writers = Task.WhenAll(_connections.Values.Select(c => c.Writer));
        await Task.WhenAny(writers, Task.Delay(_options.ShutdownDrainTimeout, _time, cancellationToken)).ConfigureAwait(false);
    }

    private void BeginShutdown()
    {
        if (_stopping)
        {
            return;
        }

        _stopping = true;
        Log.ShuttingDown(_logger, Count);
        foreach (var connection in _connections.Values)
        {
            connection.CloseForShutdown("The server is shutting down; reconnect (to another node) and resume with afterSeq.");
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
        [LoggerMessage(5100, LogLevel.Warning, "Connection {ConnectionId} disconnected as a slow consumer: more than {Limit} messages queued outbound")]
        public static partial void SlowConsumer(ILogger logger, string connectionId, int limit);

        [LoggerMessage(5101, LogLevel.Information, "Connection {ConnectionId} closed: its access token expired")]
        public static partial void TokenExpired(ILogger logger, string connectionId);

        [LoggerMessage(5102, LogLevel.Information, "Shutting down: closing {Count} connections with reconnect allowed")]
        public static partial void ShuttingDown(ILogger logger, int count);
    }
}
