using System.Diagnostics.Metrics;

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
    private long _connections;
    private long _subscriptions;
    private int _redisConnected = -1;

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
            description: "Connections cut off as slow consumers (a message waited past Hub:SlowConsumerMaxLag, or Hub:OutboundQueueLimit messages waited).");
        _holesRepaired = meter.CreateCounter<long>("signalstream_hub_holes_repaired_total",
            description: "Signals read from the store to fill a hole in a symbol's seq before delivering past it.");
        _authFailures = meter.CreateCounter<long>("signalstream_hub_auth_failures_total",
            description: "Rejected access tokens, by reason.");
        _rateLimited = meter.CreateCounter<long>("signalstream_hub_rate_limited_total",
            description: "Hub invocations refused by the per-connection rate limit.");
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

    public void SlowConsumerDisconnected() => _slowConsumerDisconnects.Add(1);

    public void HolesRepaired(int signals) => _holesRepaired.Add(signals);

    /// <param name="reason">One of the fixed <see cref="Auth.TokenRejection"/> labels: bounded cardinality.</param>
    public void AuthFailed(string reason) => _authFailures.Add(1, new KeyValuePair<string, object?>("reason", reason));

    public void RateLimited() => _rateLimited.Add(1);

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
