using System.Collections.Concurrent;
using SignalStream.Hub.FanOut.Internal;
using SignalStream.Hub.Hubs;
using StackExchange.Redis;

namespace SignalStream.Hub.FanOut.Redis;

/// <summary>
/// <see cref="ISignalBus"/> over Redis pub/sub (StackExchange.Redis 1.2.6): one channel per symbol,
/// <c>{Hub:RedisChannelPrefix}:{SYMBOL}</c>, so a hub node receives only the symbols its clients want.
/// </summary>
/// <remarks>
/// <c>PreserveAsyncOrder</c> stays true: the multiplexer then calls a channel's handler serially in arrival order,
/// which is what seq-based ordering relies on. Publishing is fire-and-forget: what a Redis outage swallows, hub nodes
/// repair from the store (see <see cref="IBusListener.OnBusRestored"/>), so the engine never waits on Redis.
/// </remarks>
internal sealed partial class RedisSignalBus : ISignalBus, IHostedService, IDisposable
{
    private readonly string _configuration;
    private readonly string _prefix;
    private readonly HubMetrics _metrics;
    private readonly ILogger<RedisSignalBus> _logger;
    private readonly ConcurrentDictionary<string, byte> _symbols = new(StringComparer.Ordinal);
    private ConnectionMultiplexer? _multiplexer;
    private IBusListener? _listener;

    public RedisSignalBus(string configuration, string prefix, HubMetrics metrics, ILogger<RedisSignalBus> logger)
    {
        _configuration = configuration;
        _prefix = prefix;
        _metrics = metrics;
        _logger = logger;
    }

    public bool IsConnected => _multiplexer?.IsConnected == true;

    public void SetListener(IBusListener listener) => _listener = listener;

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var options = ConfigurationOptions.Parse(_configuration);
        // Start (and keep running) while Redis is down: local delivery does not need it, and the multiplexer
        // reconnects in the background.
        options.AbortOnConnectFail = false;
        options.ConnectRetry = 1;
        options.ConnectTimeout = Math.Min(options.ConnectTimeout, 2000);
        options.ClientName ??= "signalstream";
        var multiplexer = await ConnectionMultiplexer.ConnectAsync(options).ConfigureAwait(false);
        multiplexer.PreserveAsyncOrder = true;
        multiplexer.ConnectionFailed += OnConnectionFailed;
        multiplexer.ConnectionRestored += OnConnectionRestored;
        _multiplexer = multiplexer;
        _metrics.RedisConnected(multiplexer.IsConnected);
        Log.Started(_logger, options.EndPoints.Count > 0 ? options.EndPoints[0].ToString() ?? "?" : "?", multiplexer.IsConnected);
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public bool TryPublish(BusMessage message)
    {
        var multiplexer = _multiplexer;
        if (multiplexer is null || !multiplexer.IsConnected)
        {
            return false;
        }

        try
        {
            multiplexer.GetSubscriber().Publish(ChannelOf(message.Symbol), BusEnvelope.Serialize(message), CommandFlags.FireAndForget);
            return true;
        }
        catch (RedisConnectionException ex)
        {
            // The connection dropped between the check and the write; hub nodes repair from the store.
            Log.PublishFailed(_logger, message.Symbol, ex.Message);
            return false;
        }
    }

    public async Task SubscribeAsync(string symbol, CancellationToken cancellationToken)
    {
        if (!_symbols.TryAdd(symbol, 0))
        {
            return;
        }

        await TrySubscribeAsync(symbol).ConfigureAwait(false);
    }

    private async Task TrySubscribeAsync(string symbol)
    {
        var multiplexer = _multiplexer;
        if (multiplexer is null)
        {
            return;
        }

        try
        {
            await multiplexer.GetSubscriber().SubscribeAsync(ChannelOf(symbol), (channel, value) => OnRedisMessage(symbol, value))
                .ConfigureAwait(false);
            Log.Subscribed(_logger, symbol);
        }
        catch (RedisException ex)
        {
            // Down now: OnConnectionRestored subscribes every wanted symbol again, and the store fills what passed.
            Log.SubscribeFailed(_logger, symbol, ex.Message);
        }
        catch (TimeoutException ex)
        {
            Log.SubscribeFailed(_logger, symbol, ex.Message);
        }
    }

    private RedisChannel ChannelOf(string symbol) => new(_prefix + ":" + symbol, RedisChannel.PatternMode.Literal);

    private void OnRedisMessage(string symbol, RedisValue value)
    {
        byte[]? payload = value;
        if (payload is null)
        {
            return;
        }

        var message = BusEnvelope.TryParse(payload, symbol, out var error);
        if (message is null)
        {
            Log.BadMessage(_logger, symbol, error ?? "?");
            return;
        }

        _listener?.OnMessage(message);
    }

    private void OnConnectionFailed(object? sender, ConnectionFailedEventArgs e)
    {
        _metrics.RedisConnected(false);
        Log.ConnectionLost(_logger, e.ConnectionType.ToString(), e.FailureType.ToString());
    }

    private void OnConnectionRestored(object? sender, ConnectionFailedEventArgs e)
    {
        _metrics.RedisConnected(_multiplexer?.IsConnected == true);
        Log.ConnectionRestored(_logger, e.ConnectionType.ToString());
        if (e.ConnectionType == ConnectionType.Subscription)
        {
            // The multiplexer restores its subscriptions itself, but only those that succeeded before; re-issuing
            // every wanted symbol is idempotent and covers subscribes attempted during the outage.
            foreach (var symbol in _symbols.Keys)
            {
                _ = TrySubscribeAsync(symbol);
            }
        }

        _listener?.OnBusRestored();
    }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _multiplexer, null) is { } multiplexer)
        {
            multiplexer.ConnectionFailed -= OnConnectionFailed;
            multiplexer.ConnectionRestored -= OnConnectionRestored;
            multiplexer.Dispose();
        }
    }

    private static partial class Log
    {
        [LoggerMessage(5300, LogLevel.Information, "Redis fan-out bus at {Endpoint} started (connected: {Connected})")]
        public static partial void Started(ILogger logger, string endpoint, bool connected);

        [LoggerMessage(5301, LogLevel.Warning, "Redis {ConnectionType} connection lost ({FailureType}); local delivery continues, cross-node delivery repairs from the store when it returns")]
        public static partial void ConnectionLost(ILogger logger, string connectionType, string failureType);

        [LoggerMessage(5302, LogLevel.Information, "Redis {ConnectionType} connection restored")]
        public static partial void ConnectionRestored(ILogger logger, string connectionType);

        [LoggerMessage(5303, LogLevel.Debug, "Publishing {Symbol} to Redis failed: {Error}")]
        public static partial void PublishFailed(ILogger logger, string symbol, string error);

        [LoggerMessage(5304, LogLevel.Warning, "Subscribing to {Symbol} on Redis failed ({Error}); retried when Redis is back")]
        public static partial void SubscribeFailed(ILogger logger, string symbol, string error);

        [LoggerMessage(5305, LogLevel.Warning, "Ignored a bus message on {Symbol}: {Error}")]
        public static partial void BadMessage(ILogger logger, string symbol, string error);

        [LoggerMessage(5306, LogLevel.Debug, "Subscribed to {Symbol} on Redis")]
        public static partial void Subscribed(ILogger logger, string symbol);
    }
}
