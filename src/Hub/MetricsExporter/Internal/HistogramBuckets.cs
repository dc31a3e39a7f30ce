using System.Diagnostics.Metrics;

namespace SignalStream.Hub.MetricsExporter.Internal;

/// <summary>
/// Bucket boundaries per quantity. The defaults Prometheus client libraries use (5 ms … 10 s) are useless for
/// most of ours: inference runs in microseconds (DESIGN.md measured 3–71 µs a batch), batches hold 1…512 rows.
/// Precedence: configuration (<c>Observability:Buckets:&lt;name&gt;</c>) → this table by exact name → the
/// instrument's <see cref="InstrumentAdvice{T}"/> → a table by name suffix → Prometheus' defaults.
/// </summary>
internal static class HistogramBuckets
{
    /// <summary>Pipeline and request latency: 0.5 ms … 10 s.</summary>
    public static readonly double[] LatencySeconds =
        [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

    /// <summary>One ONNX Run: 1 µs … 100 ms.</summary>
    public static readonly double[] InferenceSeconds =
        [0.000001, 0.0000025, 0.000005, 0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1];

    /// <summary>Rows per inference batch: powers of two up to 2048.</summary>
    public static readonly double[] BatchSize = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048];

    /// <summary>Persistence lag and commit time: 1 ms … 2 min (an outage buffers for longer than a request takes).</summary>
    public static readonly double[] PersistenceSeconds =
        [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120];

    /// <summary>
    /// Queue delay inside the engine (batcher wait, channel dwell): 10 µs … 1 s. Finer from 25 ms to 250 ms, where a
    /// closing bell's requests wait for the live models' batches on a small box.
    /// </summary>
    public static readonly double[] QueueSeconds =
        [0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.035, 0.05, 0.075, 0.1, 0.15, 0.25, 0.5, 1];

    /// <summary>Message and payload sizes: 64 B … 1 MiB.</summary>
    public static readonly double[] Bytes = [64, 256, 1024, 4096, 16384, 65536, 262144, 1048576];

    /// <summary>What Prometheus client libraries use when nothing better is known.</summary>
    public static readonly double[] PrometheusDefault = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

    private static readonly Dictionary<string, double[]> s_byName = new(StringComparer.Ordinal)
    {
        ["signalstream_pipeline_latency_seconds"] = LatencySeconds,
        ["signalstream_inference_duration_seconds"] = InferenceSeconds,
        ["signalstream_inference_batch_size"] = BatchSize,
        ["signalstream_inference_queue_delay_seconds"] = QueueSeconds,
        ["signalstream_persistence_lag_seconds"] = PersistenceSeconds,
        ["signalstream_hub_send_duration_seconds"] = LatencySeconds,
    };

    /// <summary>The boundaries for a histogram family, in base units (already multiplied by <paramref name="scale"/>).</summary>
    public static double[] For(string metricName, Instrument instrument, double scale, IReadOnlyDictionary<string, double[]> configured)
    {
        if (configured.TryGetValue(metricName, out var fromConfiguration))
        {
            return fromConfiguration;
        }

        if (s_byName.TryGetValue(metricName, out var known))
        {
            return known;
        }

        var advised = Advised(instrument);
        if (advised is { Count: > 0 })
        {
            var bounds = new double[advised.Count];
            for (var i = 0; i < bounds.Length; i++)
            {
                bounds[i] = advised[i] * scale;
            }

            return IsStrictlyIncreasing(bounds) ? bounds : PrometheusDefault;
        }

        if (metricName.EndsWith("_batch_size", StringComparison.Ordinal) || metricName.EndsWith("_size", StringComparison.Ordinal))
        {
            return BatchSize;
        }

        if (metricName.EndsWith("_bytes", StringComparison.Ordinal))
        {
            return Bytes;
        }

        if (metricName.EndsWith("_seconds", StringComparison.Ordinal))
        {
            return metricName.Contains("persist", StringComparison.Ordinal) ? PersistenceSeconds : LatencySeconds;
        }

        return PrometheusDefault;
    }

    public static bool IsStrictlyIncreasing(IReadOnlyList<double> bounds)
    {
        for (var i = 0; i < bounds.Count; i++)
        {
            if (!double.IsFinite(bounds[i]) || (i > 0 && bounds[i] <= bounds[i - 1]))
            {
                return false;
            }
        }

        return bounds.Count > 0;
    }

    private static IReadOnlyList<double>? Advised(Instrument instrument) => instrument switch
    {
        Histogram<double> h => h.Advice?.HistogramBucketBoundaries,
        Histogram<float> h => Widen(h.Advice?.HistogramBucketBoundaries),
        Histogram<long> h => Widen(h.Advice?.HistogramBucketBoundaries),
        Histogram<int> h => Widen(h.Advice?.HistogramBucketBoundaries),
        Histogram<short> h => Widen(h.Advice?.HistogramBucketBoundaries),
        Histogram<byte> h => Widen(h.Advice?.HistogramBucketBoundaries),
        Histogram<decimal> h => Widen(h.Advice?.HistogramBucketBoundaries),
        _ => null,
    };

    private static double[]? Widen<T>(IReadOnlyList<T>? bounds)
        where T : struct, IConvertible
    {
        if (bounds is null)
        {
            return null;
        }

        var result = new double[bounds.Count];
        for (var i = 0; i < result.Length; i++)
        {
            result[i] = bounds[i].ToDouble(System.Globalization.CultureInfo.InvariantCulture);
        }

        return result;
    }
}
