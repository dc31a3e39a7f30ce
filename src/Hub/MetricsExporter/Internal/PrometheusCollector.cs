using System.Diagnostics.Metrics;
using System.Text;
using Microsoft.Extensions.Options;

namespace SignalStream.Hub.MetricsExporter.Internal;

/// <summary>
/// Listens to the exported meters and aggregates every measurement into <see cref="MetricFamily"/> series as it
/// arrives (no buffering, no per-measurement allocation once a series exists); renders the exposition on scrape.
/// Only meters of this host's <see cref="IMeterFactory"/> (or process-wide meters such as <c>System.Runtime</c>) are
/// taken, so several hosts in one process (tests) do not read each other's instruments.
/// </summary>
internal sealed partial class PrometheusCollector : IDisposable
{
    private const string OverflowMetric = "signalstream_metrics_overflow_measurements_total";

    private static readonly byte[] s_overflowHeader = Encoding.UTF8.GetBytes(
        $"# HELP {OverflowMetric} Measurements folded into a metric's overflow=\"true\" series because it reached Observability:MaxSeriesPerMetric.\n" +
        $"# TYPE {OverflowMetric} counter\n");

    private static readonly byte[] s_overflowName = Encoding.UTF8.GetBytes(OverflowMetric);

    private readonly IMeterFactory _meterFactory;
    private readonly MetricsExporterOptions _options;
    private readonly ILogger _logger;
    private readonly MeterListener _listener = new();
    private readonly Lock _registryGate = new();
    private readonly Lock _scrapeGate = new();
    private readonly Dictionary<string, MetricFamily> _families = new(StringComparer.Ordinal);
    private readonly HashSet<MetricFamily> _overflowReported = [];
    private MetricFamily[] _ordered = [];
    private long _generation;
    private bool _started;

    public PrometheusCollector(IMeterFactory meterFactory, IOptions<MetricsExporterOptions> options, ILogger<PrometheusCollector> logger)
    {
        _meterFactory = meterFactory;
        _options = options.Value;
        _logger = logger;
    }

    /// <summary>Current collection generation; observable series stamped with it are live.</summary>
    internal long Generation => Volatile.Read(ref _generation);

    /// <summary>Families in name order (a snapshot).</summary>
    internal MetricFamily[] Families => Volatile.Read(ref _ordered);

    public void Start()
    {
        lock (_registryGate)
        {
            if (_started)
            {
                return;
            }

            _started = true;
        }

        _listener.InstrumentPublished = OnInstrumentPublished;
        _listener.SetMeasurementEventCallback<double>(static (_, value, tags, state) => ((InstrumentBinding)state!).Record(value, tags));
        _listener.SetMeasurementEventCallback<float>(static (_, value, tags, state) => ((InstrumentBinding)state!).Record(value, tags));
        _listener.SetMeasurementEventCallback<long>(static (_, value, tags, state) => ((InstrumentBinding)state!).Record(value, tags));
        _listener.SetMeasurementEventCallback<int>(static (_, value, tags, state) => ((InstrumentBinding)state!).Record(value, tags));
        _listener.SetMeasurementEventCallback<short>(static (_, value, tags, state) => ((InstrumentBinding)state!).Record(value, tags));
        _listener.SetMeasurementEventCallback<byte>(static (_, value, tags, state) => ((InstrumentBinding)state!).Record(value, tags));
        _listener.SetMeasurementEventCallback<decimal>(static (_, value, tags, state) => ((InstrumentBinding)state!).Record((double)value, tags));
        _listener.Start();
        Log.Started(_logger, _options.Path);
    }

    /// <summary>Runs the observable callbacks and writes every family, in name order, to <paramref name="writer"/>.</summary>
    public void Collect(PrometheusTextWriter writer)
    {
        lock (_scrapeGate)
        {
            Interlocked.Increment(ref _generation);
            _listener.RecordObservableInstruments();
            var generation = Generation;
            var families = Families;
            var anyOverflow = false;
            foreach (var family in families)
            {
                writer.WriteFamily(family, generation);
                anyOverflow |= family.OverflowMeasurements > 0;
            }

            writer.Write(s_overflowHeader);
            if (anyOverflow)
            {
                foreach (var family in families)
                {
                    var dropped = family.OverflowMeasurements;
                    if (dropped > 0)
                    {
                        writer.WriteSample(s_overflowName, ""u8, family.OverflowLabel, dropped);
                        if (_overflowReported.Add(family))
                        {
                            Log.SeriesCapReached(_logger, family.Name, _options.MaxSeriesPerMetric);
                        }
                    }
                }
            }
        }
    }

    public void Dispose() => _listener.Dispose();

    private void OnInstrumentPublished(Instrument instrument, MeterListener listener)
    {
        var meter = instrument.Meter;
        if ((meter.Scope is not null && !ReferenceEquals(meter.Scope, _meterFactory)) || !_options.ExportsMeter(meter.Name))
        {
            return;
        }

        if (!TryClassify(instrument, out var kind, out var aggregation))
        {
            return;
        }

        var (name, scale) = PrometheusNaming.MetricName(instrument, kind);
        var observable = aggregation == Aggregation.Observe;
        MetricFamily family;
        lock (_registryGate)
        {
            if (_families.TryGetValue(name, out var existing))
            {
                if (existing.Kind != kind || existing.Observable != observable)
                {
                    Log.NameConflict(_logger, instrument.Name, meter.Name, name);
                    return;
                }

                // Same name and shape (e.g. one instrument per component instance): the series merge.
                family = existing;
            }
            else
            {
                var bounds = kind == MetricKind.Histogram ? HistogramBuckets.For(name, instrument, scale, _options.Buckets) : null;
                var help = string.IsNullOrWhiteSpace(instrument.Description)
                    ? $"{instrument.Name} ({meter.Name})"
                    : instrument.Description;
                family = new MetricFamily(name, help, kind, bounds, observable, _options.MaxSeriesPerMetric);
                _families.Add(name, family);
                var ordered = new MetricFamily[_families.Count];
                _families.Values.CopyTo(ordered, 0);
                Array.Sort(ordered, static (a, b) => string.CompareOrdinal(a.Name, b.Name));
                Volatile.Write(ref _ordered, ordered);
            }
        }

        listener.EnableMeasurementEvents(instrument, new InstrumentBinding(this, family, aggregation, scale));
    }

    private static bool TryClassify(Instrument instrument, out MetricKind kind, out Aggregation aggregation)
    {
        if (IsMisdeclaredRuntimeGauge(instrument))
        {
            kind = MetricKind.Gauge;
            aggregation = Aggregation.Observe;
            return true;
        }

        var type = instrument.GetType();
        var definition = type.IsGenericType ? type.GetGenericTypeDefinition() : type;
        (kind, aggregation) = definition switch
        {
            _ when definition == typeof(Counter<>) => (MetricKind.Counter, Aggregation.Add),
            _ when definition == typeof(UpDownCounter<>) => (MetricKind.Gauge, Aggregation.Add),
            _ when definition == typeof(Histogram<>) => (MetricKind.Histogram, Aggregation.Histogram),
            _ when definition == typeof(Gauge<>) => (MetricKind.Gauge, Aggregation.Set),
            _ when definition == typeof(ObservableCounter<>) => (MetricKind.Counter, Aggregation.Observe),
            _ when definition == typeof(ObservableUpDownCounter<>) => (MetricKind.Gauge, Aggregation.Observe),
            _ when definition == typeof(ObservableGauge<>) => (MetricKind.Gauge, Aggregation.Observe),
            _ => ((MetricKind)255, Aggregation.None),
        };
        return aggregation != Aggregation.None;
    }

    /// <summary>
    /// The runtime declares these snapshots (they go down) as ObservableCounter; exported as counters, rate() would
    /// read every drop as a reset (dotnet/runtime#112077; queue.length fixed by #126482 in a later runtime).
    /// </summary>
    private static bool IsMisdeclaredRuntimeGauge(Instrument instrument) =>
        instrument.Meter.Name == "System.Runtime"
        && instrument.Name is "dotnet.thread_pool.thread.count" or "dotnet.thread_pool.queue.length";

    internal enum Aggregation : byte
    {
        None,
        Add,
        Set,
        Observe,
        Histogram,
    }

    /// <summary>The state handed to the listener per instrument: where its measurements go and how they combine.</summary>
    private sealed class InstrumentBinding(PrometheusCollector owner, MetricFamily family, Aggregation aggregation, double scale)
    {
        public void Record(double value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
        {
            value *= scale;
            switch (aggregation)
            {
                case Aggregation.Add:
                    if (family.Kind == MetricKind.Counter && !(value >= 0))
                    {
                        // A counter never goes down (Prometheus reads a decrease as a restart); a negative add is a bug upstream.
                        return;
                    }

                    family.GetSeries(tags).Add(value);
                    break;
                case Aggregation.Set:
                    family.GetSeries(tags).Set(value);
                    break;
                case Aggregation.Observe:
                    var series = family.GetSeries(tags);
                    series.Set(value);
                    series.Generation = owner.Generation;
                    break;
                case Aggregation.Histogram:
                    if (!double.IsNaN(value))
                    {
                        family.GetSeries(tags).Record(value, family.Bounds);
                    }

                    break;
            }
        }
    }
}
