using System.Diagnostics.CodeAnalysis;
using System.Diagnostics.Metrics;

namespace SignalStream.Hub.Notifications.Internal;

/// <summary>The <c>SignalStream.Notifications</c> meter: per sink, what was sent, failed, retried and dead-lettered, and how late.</summary>
internal sealed class NotificationMetrics
{
    public const string MeterName = "SignalStream.Notifications";

    private readonly Counter<long> _sent;
    private readonly Counter<long> _failed;
    private readonly Counter<long> _retried;
    private readonly Counter<long> _dead;
    private readonly Histogram<double> _latency;
    private readonly Lock _gate = new();
    private SinkRunner[] _runners = [];

    [SuppressMessage("Reliability", "CA2000:Dispose objects before losing scope", Justification = "The IMeterFactory owns the meters it creates: one cached meter per name, disposed with the container.")]
    public NotificationMetrics(IMeterFactory meterFactory)
    {
        var meter = meterFactory.Create(MeterName);
        _sent = meter.CreateCounter<long>("signalstream_notifications_sent_total",
            description: "Notifications a sink delivered (the receiver accepted them).");
        _failed = meter.CreateCounter<long>("signalstream_notifications_failed_total",
            description: "Delivery attempts that failed (each is retried or becomes a dead letter).");
        _retried = meter.CreateCounter<long>("signalstream_notifications_retried_total",
            description: "Retries scheduled after a failed attempt.");
        _dead = meter.CreateCounter<long>("signalstream_notifications_dead_total",
            description: "Notifications given up on (MaxAttempts reached, or a permanent error) and stored as dead letters.");
        _latency = meter.CreateHistogram<double>("signalstream_notifications_latency_seconds", unit: "s",
            description: "From a signal's publication (or an outcome's resolution) to its delivery, retries included.",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600] });
        meter.CreateObservableGauge("signalstream_notifications_pending", () => Observe(static r => r.PendingCount),
            description: "Notifications a sink holds in memory (queued, in flight or waiting for a retry); bounded by MaxPending.");
        meter.CreateObservableGauge("signalstream_notifications_pending_bytes", () => Observe(static r => r.PendingBytes),
            description: "Payload bytes a sink holds in memory; bounded by MaxPendingBytes.");
    }

    public void Attach(SinkRunner runner)
    {
        lock (_gate)
        {
            _runners = [.. _runners, runner];
        }
    }

    public void Sent(SinkRunner sink, double latencySeconds)
    {
        _sent.Add(1, sink.Tags[0], sink.Tags[1]);
        _latency.Record(Math.Max(latencySeconds, 0), sink.Tags[0], sink.Tags[1]);
    }

    public void Failed(SinkRunner sink) => _failed.Add(1, sink.Tags[0], sink.Tags[1]);

    public void Retried(SinkRunner sink) => _retried.Add(1, sink.Tags[0], sink.Tags[1]);

    public void Dead(SinkRunner sink) => _dead.Add(1, sink.Tags[0], sink.Tags[1]);

    private IEnumerable<Measurement<long>> Observe(Func<SinkRunner, long> value)
    {
        foreach (var runner in Volatile.Read(ref _runners))
        {
            yield return new Measurement<long>(value(runner), runner.Tags[0], runner.Tags[1]);
        }
    }
}
