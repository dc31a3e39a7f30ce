using System.Collections.Concurrent;
using System.Diagnostics.CodeAnalysis;
using System.Diagnostics.Metrics;
using SignalStream.Hub.FanOut.Internal;
using SignalStream.Hub.Hubs;
using StackExchange.Redis;

namespace SignalStream.Hub.FanOut.Redis;

/// <summary>
/// <see cref="ISignalBus"/> over Redis pub/sub (StackExchange.Redis 3.x): one channel per symbol,
/// <c>{Hub:RedisChannelPrefix}:{SYMBOL}</c>, so a hub node receives only the symbols its clients want.
/// </summary>
/// <remarks>
/// <para>
/// Order: each symbol has one <see cref="ChannelMessageQueue"/>, read by one loop, so a symbol's messages reach the
/// listener in publish order. (Handler-style subscriptions run concurrently in 3.x and reorder: 20,000 messages on one
/// channel arrived out of order in 1 of 3 runs, each inversion a needless hole repair.)
/// </para>
/// <para>
/// A symbol's queue is registered once and for good: the multiplexer re-subscribes it after every reconnect, and a
/// queue registered while Redis is down is subscribed when it returns. Publishing is fire-and-forget: what an outage
/// swallows, hub nodes repair from the store (<see cref="IBusListener.OnBusRestored"/>), so the engine never waits.
/// </para>
/// <para>
/// Credentials come from the connection string (<c>password=</c>, <c>user=</c>, <c>ssl=true</c>). Redis refusing them
/// at start stops the node with an error that names the endpoint and user, never the password. Refusing them later
/// (a password changed on the server only) looks like an outage: the multiplexer reports only the lost socket, not why
/// its reconnects fail, so readiness is Degraded and the reconnects go on until the credentials work again.
/// </para>
/// </remarks>
internal sealed partial class RedisSignalBus : ISignalBus, IHostedService, IDisposable
{
    private readonly string _configuration;
    private readonly string _prefix;
    private readonly RedisBusOptions _options;
    private readonly BusSigner _signer;
    private readonly HubMetrics _metrics;
    private readonly Counter<long> _refused;
    private readonly ILogger<RedisSignalBus> _logger;
    private readonly ConcurrentDictionary<string, Lazy<Task>> _symbols = new(StringComparer.Ordinal);
    private ConnectionMultiplexer? _multiplexer;
    private IBusListener? _listener;

    [SuppressMessage("Reliability", "CA2000:Dispose objects before losing scope", Justification = "The IMeterFactory owns the meters it creates: one cached meter per name, disposed with the container.")]
    public RedisSignalBus(string configuration, string prefix, RedisBusOptions options, HubMetrics metrics, IMeterFactory meterFactory,
        ILogger<RedisSignalBus> logger)
    {
        _configuration = configuration;
        _prefix = prefix;
        _options = options;
        _signer = new BusSigner(options.BusKey, options.PreviousBusKey);
        _metrics = metrics;
        _refused = meterFactory.Create(HubMetrics.MeterName).CreateCounter<long>("signalstream_bus_messages_refused_total",
            description: "Bus messages this node refused, by reason: unsigned or bad_signature (Redis:BusKey is set), malformed.");
        _logger = logger;
    }

    public bool IsConnected => _multiplexer?.IsConnected == true;

    public void SetListener(IBusListener listener) => _listener = listener;

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var options = ConfigurationOptions.Parse(_configuration);
        options.ConnectRetry = 1;
        options.ConnectTimeout = Math.Min(options.ConnectTimeout, 2000);
        options.ClientName ??= "signalstream";
        if (!string.IsNullOrEmpty(_options.TlsCaFile))
        {
            options.TrustIssuer(_options.TlsCaFile);
        }

        var endpoint = options.EndPoints.Count > 0 ? options.EndPoints[0].ToString() ?? "?" : "?";
        ConnectionMultiplexer multiplexer;
        try
        {
            // A first attempt that reports why it failed: refused credentials are a configuration error to stop on.
            options.AbortOnConnectFail = true;
            multiplexer = await ConnectionMultiplexer.ConnectAsync(options).ConfigureAwait(false);
        }
        catch (RedisConnectionException ex) when (ex.FailureType == ConnectionFailureType.AuthenticationFailure)
        {
            // Not chained: the inner exceptions of StackExchange.Redis are not ours to vouch for (they must not echo a secret).
            throw new InvalidOperationException(
                $"Could not authenticate to Redis at {endpoint} ({Who(options)}, TLS {(options.Ssl ? "on" : "off")}): " +
                $"{Scrub(ex.InnerException?.Message ?? ex.Message, options)}. Check password= and user= in ConnectionStrings:Redis" +
                (options.Ssl ? ", and that the server's certificate is trusted (Redis:TlsCaFile for a private CA)." : "."));
        }
        catch (RedisConnectionException)
        {
            // Unreachable now: start anyway (local delivery does not need Redis) and let the multiplexer keep trying.
            options.AbortOnConnectFail = false;
            multiplexer = await ConnectionMultiplexer.ConnectAsync(options).ConfigureAwait(false);
        }

        multiplexer.ConnectionFailed += OnConnectionFailed;
        multiplexer.ConnectionRestored += OnConnectionRestored;
        _multiplexer = multiplexer;
        _metrics.RedisConnected(multiplexer.IsConnected);
        Log.Started(_logger, endpoint, Who(options), options.Ssl, _signer.Signs, multiplexer.IsConnected);
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
            multiplexer.GetSubscriber().Publish(ChannelOf(message.Symbol), _signer.Sign(BusEnvelope.Serialize(message)), CommandFlags.FireAndForget);
            return true;
        }
        catch (RedisConnectionException ex)
        {
            // The connection dropped between the check and the write; hub nodes repair from the store.
            Log.PublishFailed(_logger, message.Symbol, ex.Message);
            return false;
        }
    }

    public Task SubscribeAsync(string symbol, CancellationToken cancellationToken) =>
        _symbols.GetOrAdd(symbol, s => new Lazy<Task>(() => SubscribeOnceAsync(s))).Value.WaitAsync(cancellationToken);

    /// <summary>Registers the symbol's queue (for good) and, when Redis is up, waits until Redis has the subscription.</summary>
    private async Task SubscribeOnceAsync(string symbol)
    {
        var multiplexer = _multiplexer ?? throw new InvalidOperationException("The Redis bus has not started.");
        var subscriber = multiplexer.GetSubscriber();

        // Fire-and-forget registers the queue without waiting for Redis, so it cannot fail and leave an orphan queue
        // behind (one that a later attempt would duplicate); the multiplexer sends SUBSCRIBE now or when it reconnects.
        var queue = subscriber.Subscribe(ChannelOf(symbol), CommandFlags.FireAndForget);
        queue.OnMessage(message => OnRedisMessage(symbol, message.Message));
        if (!multiplexer.IsConnected)
        {
            Log.SubscribeDeferred(_logger, symbol);
            return;
        }

        try
        {
            // A ping on the subscription connection is answered after the SUBSCRIBE before it: from here on, whatever is
            // published reaches this node, which is what the caller's snapshot relies on.
            await subscriber.PingAsync().ConfigureAwait(false);
            Log.Subscribed(_logger, symbol);
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException)
        {
            // Down meanwhile: the queue stays registered and is subscribed on reconnect; the catch-up fills the gap.
            Log.SubscribeDeferred(_logger, symbol);
        }
    }

    private RedisChannel ChannelOf(string symbol) => RedisChannel.Literal(_prefix + ":" + symbol);

    private void OnRedisMessage(string symbol, RedisValue value)
    {
        ReadOnlyMemory<byte> payload = value;
        if (!_signer.TryOpen(payload, out var json, out var refusal))
        {
            Refuse(symbol, refusal!, null);
            return;
        }

        var message = BusEnvelope.TryParse(json.Span, symbol, out var error);
        if (message is null)
        {
            Refuse(symbol, "malformed", error);
            return;
        }

        _listener?.OnMessage(message);
    }

    private void Refuse(string symbol, string reason, string? detail)
    {
        _refused.Add(1, new KeyValuePair<string, object?>("reason", reason));

        // Whoever can publish can publish a flood: the log says it once per interval, the counter counts every one.
        var refused = Interlocked.Increment(ref _refusedSinceLog);
        var now = Environment.TickCount64;
        var last = Interlocked.Read(ref _lastRefusalLog);
        if (now - last >= RefusalLogIntervalMs && Interlocked.CompareExchange(ref _lastRefusalLog, now, last) == last)
        {
            Interlocked.Add(ref _refusedSinceLog, -refused);
            Log.Refused(_logger, refused, symbol, reason, detail ?? "");
        }
    }

    private const long RefusalLogIntervalMs = 10_000;
    private long _lastRefusalLog = long.MinValue / 2;
    private long _refusedSinceLog;

    private void OnConnectionFailed(object? sender, ConnectionFailedEventArgs e)
    {
        _metrics.RedisConnected(false);
        Log.ConnectionLost(_logger, e.ConnectionType.ToString(), e.FailureType.ToString());
    }

    private void OnConnectionRestored(object? sender, ConnectionFailedEventArgs e)
    {
        _metrics.RedisConnected(_multiplexer?.IsConnected == true);
        Log.ConnectionRestored(_logger, e.ConnectionType.ToString());

        // The multiplexer re-subscribes every registered queue itself; what was published meanwhile is repaired.
        _listener?.OnBusRestored();
    }

    /// <summary>Who connects, for messages: the ACL user (or the default user), never the password.</summary>
    private static string Who(ConfigurationOptions options) =>
        options.User is { Length: > 0 } user ? $"user '{user}'" : options.Password is { Length: > 0 } ? "default user, password" : "no credentials";

    /// <summary>Removes the password from a message that could echo it.</summary>
    private static string Scrub(string message, ConfigurationOptions options) =>
        options.Password is { Length: > 0 } password ? message.Replace(password, "***", StringComparison.Ordinal) : message;

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
        [LoggerMessage(5300, LogLevel.Information, "Redis fan-out bus at {Endpoint} started ({Who}, TLS {Tls}, signed messages {Signed}; connected: {Connected})")]
        public static partial void Started(ILogger logger, string endpoint, string who, bool tls, bool signed, bool connected);

        [LoggerMessage(5301, LogLevel.Warning, "Redis {ConnectionType} connection lost ({FailureType}); local delivery continues, cross-node delivery repairs from the store when it returns")]
        public static partial void ConnectionLost(ILogger logger, string connectionType, string failureType);

        [LoggerMessage(5302, LogLevel.Information, "Redis {ConnectionType} connection restored")]
        public static partial void ConnectionRestored(ILogger logger, string connectionType);

        [LoggerMessage(5303, LogLevel.Debug, "Publishing {Symbol} to Redis failed: {Error}")]
        public static partial void PublishFailed(ILogger logger, string symbol, string error);

        [LoggerMessage(5304, LogLevel.Warning, "Redis is down: {Symbol} is subscribed when it returns (the catch-up fills what passed)")]
        public static partial void SubscribeDeferred(ILogger logger, string symbol);

        [LoggerMessage(5305, LogLevel.Warning, "Refused {Count} bus message(s) since the last report; the latest on {Symbol}: {Reason} {Detail}")]
        public static partial void Refused(ILogger logger, long count, string symbol, string reason, string detail);

        [LoggerMessage(5306, LogLevel.Debug, "Subscribed to {Symbol} on Redis")]
        public static partial void Subscribed(ILogger logger, string symbol);
    }
}
