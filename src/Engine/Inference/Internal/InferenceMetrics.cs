using System.Diagnostics.CodeAnalysis;
using System.Diagnostics.Metrics;

namespace SignalStream.Engine.Inference.Internal;

/// <summary>The engine's inference and pipeline instruments (Meter <c>SignalStream.Engine</c>; names from DESIGN.md section 4).</summary>
internal sealed class InferenceMetrics
{
    public const string MeterName = "SignalStream.Engine";

    private readonly Counter<long> _candlesClosed;
    private readonly Counter<long> _predictions;
    private readonly Counter<long> _failedBatches;
    private readonly Counter<long> _loadFailures;
    private readonly Counter<long> _chainsRebuilt;
    private readonly Histogram<int> _batchSize;
    private readonly Histogram<double> _duration;
    private readonly Histogram<double> _queueDelay;
    private long _batches;
    private long _batchedRows;
    private long _predictionCount;
    private long _closedCount;
    private long _chainRebuildCount;

    [SuppressMessage("Reliability", "CA2000:Dispose objects before losing scope", Justification = "The IMeterFactory owns the meters it creates: one cached meter per name, disposed with the container.")]
    public InferenceMetrics(IMeterFactory meterFactory)
    {
        var meter = meterFactory.Create(MeterName);
        _candlesClosed = meter.CreateCounter<long>("signalstream_candles_closed_total", description: "Closed candles the engine processed.");
        _predictions = meter.CreateCounter<long>("signalstream_predictions_total", description: "Model predictions delivered to the signal stage.");
        _failedBatches = meter.CreateCounter<long>("signalstream_inference_failed_batches_total", description: "Batches ONNX Runtime failed to run.");
        _loadFailures = meter.CreateCounter<long>("signalstream_model_load_failures_total", description: "Model manifests that failed validation or loading.");
        _chainsRebuilt = meter.CreateCounter<long>("signalstream_model_chain_rebuilds_total", unit: "{stream}",
            description: "Streams whose recurrent model state was rebuilt from their held rows (first row, reload, a failed batch).");
        _batchSize = meter.CreateHistogram<int>(
            "signalstream_inference_batch_size", unit: "{request}", description: "Requests per ONNX Run.",
            advice: new InstrumentAdvice<int> { HistogramBucketBoundaries = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024] });
        _duration = meter.CreateHistogram<double>(
            "signalstream_inference_duration_seconds", unit: "s", description: "Duration of one ONNX Run (one batch).",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.00002, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1] });
        _queueDelay = meter.CreateHistogram<double>(
            "signalstream_inference_queue_delay_seconds", unit: "s", description: "Time a request waited in the batcher before its Run.",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.035, 0.05, 0.075, 0.1, 0.15, 0.25, 0.5, 1] });
        meter.CreateObservableGauge("signalstream_models_loaded", () => LoadedModels, unit: "{model}", description: "Models loaded and serving.");
    }

    /// <summary>Set by the registry on every swap; read by the observable gauge.</summary>
    public int LoadedModels { get; set; }

    public long Batches => Interlocked.Read(ref _batches);

    public long BatchedRows => Interlocked.Read(ref _batchedRows);

    public long Predictions => Interlocked.Read(ref _predictionCount);

    public long CandlesClosed => Interlocked.Read(ref _closedCount);

    public long ChainRebuilds => Interlocked.Read(ref _chainRebuildCount);

    public void CandleClosed(string exchange, string timeframe)
    {
        Interlocked.Increment(ref _closedCount);
        _candlesClosed.Add(1, new KeyValuePair<string, object?>("exchange", exchange), new KeyValuePair<string, object?>("timeframe", timeframe));
    }

    public void PredictionsDelivered(string model, int count)
    {
        Interlocked.Add(ref _predictionCount, count);
        _predictions.Add(count, new KeyValuePair<string, object?>("model", model));
    }

    public void BatchCompleted(string model, int rows, double seconds)
    {
        Interlocked.Increment(ref _batches);
        Interlocked.Add(ref _batchedRows, rows);
        _batchSize.Record(rows);
        _duration.Record(seconds, new KeyValuePair<string, object?>("model", model));
    }

    public void ChainsRebuilt(string model, int streams)
    {
        Interlocked.Add(ref _chainRebuildCount, streams);
        _chainsRebuilt.Add(streams, new KeyValuePair<string, object?>("model", model));
    }

    public void BatchFailed(string model) => _failedBatches.Add(1, new KeyValuePair<string, object?>("model", model));

    /// <summary>Per model: a shadow model's requests wait for the live ones by design (LiveFirst), and would hide them otherwise.</summary>
    public void QueueDelay(string model, double seconds) => _queueDelay.Record(seconds, new KeyValuePair<string, object?>("model", model));

    public void ModelLoadFailed() => _loadFailures.Add(1);
}
