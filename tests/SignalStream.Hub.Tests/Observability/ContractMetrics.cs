using System.Diagnostics.Metrics;

namespace SignalStream.Hub.Tests.Observability;

/// <summary>
/// The metric names of DESIGN.md section 4 (the contract dashboards and alerts rely on), plus the operator metrics
/// the alert rules use. <see cref="Emit"/> creates stand-in instruments with those names in a test meter, to prove
/// the exporter and the deploy files before the stages' own instruments are merged.
/// </summary>
internal static class ContractMetrics
{
    public static readonly string[] Names =
    [
        "signalstream_ingest_messages_total",
        "signalstream_candles_closed_total",
        "signalstream_ingest_reconnects_total",
        "signalstream_backfilled_candles_total",
        "signalstream_inference_batch_size",
        "signalstream_inference_duration_seconds",
        "signalstream_signals_total",
        "signalstream_pipeline_latency_seconds",
        "signalstream_hub_connections",
        "signalstream_hub_subscriptions",
        "signalstream_hub_messages_sent_total",
        "signalstream_events_persisted_total",
        "signalstream_persistence_lag_seconds",
        "signalstream_signal_outcomes_total",
    ];

    /// <summary>Names the alert rules use beyond section 4 (documented in docs/operations.md for the stage owners).</summary>
    public static readonly string[] OperatorNames =
    [
        "signalstream_hub_slow_consumer_disconnects_total",
        "signalstream_inference_failed_batches_total",
        "signalstream_model_chain_rebuilds_total",
    ];

    private static readonly KeyValuePair<string, object?> Binance = new("exchange", "binance");

    public static Meter Emit(IMeterFactory meterFactory)
    {
        var meter = meterFactory.Create("SignalStream.ContractStandIn");
        meter.CreateCounter<long>("signalstream_ingest_messages_total").Add(120, Binance);
        meter.CreateCounter<long>("signalstream_candles_closed_total").Add(20, Binance, new("timeframe", "1m"));
        meter.CreateCounter<long>("signalstream_ingest_reconnects_total").Add(1, Binance);
        meter.CreateCounter<long>("signalstream_backfilled_candles_total").Add(3, Binance);
        var batch = meter.CreateHistogram<int>("signalstream_inference_batch_size");
        batch.Record(5);
        batch.Record(20);
        var inference = meter.CreateHistogram<double>("signalstream_inference_duration_seconds", unit: "s");
        inference.Record(0.000012, new KeyValuePair<string, object?>("model", "lstm"));
        inference.Record(0.000031, new KeyValuePair<string, object?>("model", "patchtst"));
        meter.CreateCounter<long>("signalstream_signals_total").Add(2, new("timeframe", "1m"), new("direction", "long"));
        var latency = meter.CreateHistogram<double>("signalstream_pipeline_latency_seconds", unit: "s");
        latency.Record(0.004);
        latency.Record(0.012);
        latency.Record(0.03);
        meter.CreateUpDownCounter<long>("signalstream_hub_connections").Add(3);
        meter.CreateUpDownCounter<long>("signalstream_hub_subscriptions").Add(7);
        meter.CreateCounter<long>("signalstream_hub_messages_sent_total").Add(14);
        meter.CreateCounter<long>("signalstream_events_persisted_total").Add(22);
        meter.CreateHistogram<double>("signalstream_persistence_lag_seconds", unit: "s").Record(0.02);
        var outcomes = meter.CreateCounter<long>("signalstream_signal_outcomes_total");
        outcomes.Add(3, new("model", "lstm"), new("outcome", "win"));
        outcomes.Add(1, new("model", "lstm"), new("outcome", "loss"));
        meter.CreateCounter<long>("signalstream_hub_slow_consumer_disconnects_total").Add(1);
        meter.CreateCounter<long>("signalstream_inference_failed_batches_total").Add(1, new KeyValuePair<string, object?>("model", "lstm"));
        meter.CreateCounter<long>("signalstream_model_chain_rebuilds_total").Add(2, new KeyValuePair<string, object?>("model", "lstm"));
        return meter;
    }
}
