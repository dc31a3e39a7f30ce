using System.Diagnostics.CodeAnalysis;
using System.Diagnostics.Metrics;
using SignalStream.Hub.Hubs.Internal;

namespace SignalStream.Hub.Hubs;

/// <summary>The <c>SignalStream.Hub</c> meter: connections, deliveries, repairs, abuse and pipeline latency.</summary>
internal sealed class HubMetrics
{
    public const string MeterName = "SignalStream.Hub";

    private readonly Counter<long> _messagesSent;
    private readonly Counter<long> _slowConsumerDisconnects;
    private readonly Counter<long> _holesRepaired;
    private readonly Counter<long> _authFailures;
    private readonly Counter<long> _rateLimited;
    private readonly Histogram<double> _pipelineLatency;
    private readonly Counter<long> _connectionsRefused;
    private readonly Counter<long> _handshakeTimeouts;
    private readonly Counter<long> _floodDisconnects;
    private readonly Counter<long> _queueOverflowDisconnects;
    private Func<long>? _queuedBytes;
    private long _sweepDelayTicks;
    private long _connections;
    private long _subscriptions;
    private int _redisConnected = -1;

    [SuppressMessage("Reliability", "CA2000:Dispose objects before losing scope", Justification = "The IMeterFactory owns the meters it creates: one cached meter per name, disposed with the container.")]
    public HubMetrics(IMeterFactory meterFactory)
    {
        var meter = meterFactory.Create(MeterName);
        meter.CreateObservableGauge("signalstream_hub_connections", () => Volatile.Read(ref _connections),
            description: "SignalR connections this node serves.");
        meter.CreateObservableGauge("signalstream_hub_subscriptions", () => Volatile.Read(ref _subscriptions),
            description: "Signal and candle subscriptions on this node.");
        meter.CreateObservableGauge("signalstream_redis_connected", ObserveRedis,
            description: "1 while the Redis fan-out bus is connected, 0 while it is not (absent without Redis).");
        _messagesSent = meter.CreateCounter<long>("signalstream_hub_messages_sent_total",
            description: "Messages queued to clients (one per message per receiving connection).");
        _slowConsumerDisconnects = meter.CreateCounter<long>("signalstream_hub_slow_consumer_disconnects_total",
            description: "Connections cut off as slow consumers, by reason: lag (a message waited past Hub:SlowConsumerMaxLag), queue (past " +
                "Hub:OutboundQueueBytes or Hub:OutboundQueueLimit), address_bytes (the client address's queues past Hub:MaxQueuedBytesPerIp), " +
                "node_bytes (all queues past Hub:MaxQueuedBytes).");
        _holesRepaired = meter.CreateCounter<long>("signalstream_hub_holes_repaired_total",
            description: "Signals read from the store to fill a hole in a symbol's seq before delivering past it.");
        _authFailures = meter.CreateCounter<long>("signalstream_hub_auth_failures_total",
            description: "Rejected access tokens, by reason.");
        _rateLimited = meter.CreateCounter<long>("signalstream_hub_rate_limited_total",
            description: "Hub invocations refused by the per-connection rate limit.");
        _connectionsRefused = meter.CreateCounter<long>("signalstream_hub_connections_refused_total",
            description: "Connect requests refused by a connection cap, by reason (full, per_ip, per_subject, connect_rate, reconnect_penalty), and negotiates refused by Hub:NegotiatesPerSecond (negotiate_rate) or Hub:ReconnectPenalty (reconnect_penalty).");
        _handshakeTimeouts = meter.CreateCounter<long>("signalstream_hub_handshake_timeouts_total",
            description: "Connections dropped because they had not finished the SignalR handshake within Hub:HandshakeTimeout.");
        _floodDisconnects = meter.CreateCounter<long>("signalstream_hub_flood_disconnects_total",
            description: "Connections closed for invocation flooding (refused calls outran the invocation rate limit).");
        _queueOverflowDisconnects = meter.CreateCounter<long>("signalstream_hub_queue_overflow_disconnects_total",
            description: "Connections cut off because more than Hub:OutboundQueueBytes (or Hub:OutboundQueueLimit messages) waited for them; also counted as slow-consumer disconnects.");
        meter.CreateObservableGauge("signalstream_hub_queued_bytes", () => _queuedBytes?.Invoke() ?? 0, unit: "By",
            description: "Bytes waiting to be sent to this node's connections (fan-out messages and SignalR's own replies).");
        meter.CreateObservableGauge("signalstream_hub_sweep_delay_seconds", () => TimeSpan.FromTicks(Volatile.Read(ref _sweepDelayTicks)).TotalSeconds, unit: "s",
            description: "How late the connection sweep last ran: the node's own measure of being behind (CPU or thread pool).");
        _pipelineLatency = meter.CreateHistogram<double>("signalstream_pipeline_latency_seconds", unit: "s",
            description: "Exchange event time of the candle close to the signal's publication.");
    }

    public void ConnectionOpened() => Interlocked.Increment(ref _connections);

    public void ConnectionClosed() => Interlocked.Decrement(ref _connections);

    public void SubscriptionsChanged(int delta) => Interlocked.Add(ref _subscriptions, delta);

    public void MessagesSent(int count)
    {
        if (count > 0)
        {
            _messagesSent.Add(count);
        }
    }

    /// <param name="reason">One of the fixed <see cref="CutReasons"/>: bounded cardinality.</param>
    public void SlowConsumerDisconnected(string reason) => _slowConsumerDisconnects.Add(1, new KeyValuePair<string, object?>("reason", reason));

    public void HolesRepaired(int signals) => _holesRepaired.Add(signals);

    /// <param name="reason">One of the fixed <see cref="Auth.TokenRejection"/> labels: bounded cardinality.</param>
    public void AuthFailed(string reason) => _authFailures.Add(1, new KeyValuePair<string, object?>("reason", reason));

    public void RateLimited() => _rateLimited.Add(1);

    public void ConnectionRefused(AdmissionRefusal refusal) => _connectionsRefused.Add(1, new KeyValuePair<string, object?>("reason", refusal switch
    {
        AdmissionRefusal.Full => "full",
        AdmissionRefusal.PerIp => "per_ip",
        _ => "per_subject",
    }));

    public void NegotiateRateLimited() => _connectionsRefused.Add(1, new KeyValuePair<string, object?>("reason", "negotiate_rate"));

    public void ConnectRateLimited() => _connectionsRefused.Add(1, new KeyValuePair<string, object?>("reason", "connect_rate"));

    public void ReconnectPenalized() => _connectionsRefused.Add(1, new KeyValuePair<string, object?>("reason", "reconnect_penalty"));

    public void HandshakeTimedOut() => _handshakeTimeouts.Add(1);

    public void FloodDisconnected() => _floodDisconnects.Add(1);

    public void QueueOverflowed() => _queueOverflowDisconnects.Add(1);

    /// <summary>Where <c>signalstream_hub_queued_bytes</c> is read from (the connection registry).</summary>
    public void ObserveQueuedBytes(Func<long> queuedBytes) => _queuedBytes = queuedBytes;

    public void SweepDelayed(TimeSpan delay) => Volatile.Write(ref _sweepDelayTicks, delay.Ticks);

    public void SignalPublished(long exchangeTimeMs, long publishedAtMs)
    {
        if (exchangeTimeMs > 0 && publishedAtMs >= exchangeTimeMs)
        {
            _pipelineLatency.Record((publishedAtMs - exchangeTimeMs) / 1000.0);
        }
    }

    public void RedisConnected(bool connected) => Volatile.Write(ref _redisConnected, connected ? 1 : 0);

    private IEnumerable<Measurement<int>> ObserveRedis()
    {
        var value = Volatile.Read(ref _redisConnected);
        return value < 0 ? [] : [new Measurement<int>(value)];
    }
}

/// <summary>The <c>reason</c> label of <c>signalstream_hub_slow_consumer_disconnects_total</c>: which bound cut a connection.</summary>
internal static class CutReasons
{
    /// <summary>Its transport took nothing for <c>Hub:SlowConsumerMaxLag</c> while its kernel send buffer was full.</summary>
    public const string Lag = "lag";

    /// <summary>Its own queue passed <c>Hub:OutboundQueueBytes</c> or <c>Hub:OutboundQueueLimit</c>.</summary>
    public const string Queue = "queue";

    /// <summary>Its client address's queues together passed <c>Hub:MaxQueuedBytesPerIp</c>.</summary>
    public const string AddressBytes = "address_bytes";

    /// <summary>All connections' queues together passed <c>Hub:MaxQueuedBytes</c>.</summary>
    public const string NodeBytes = "node_bytes";
}
