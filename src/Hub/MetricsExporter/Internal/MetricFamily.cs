using System.Numerics;
using System.Text;

namespace SignalStream.Hub.MetricsExporter.Internal;

/// <summary>
/// One Prometheus metric family (a name, its HELP/TYPE and its series). Lookup of a series by tag set is lock-free:
/// an open-addressing table sized for the series cap, filled in place under a lock and read with volatile reads, so a
/// measurement on an existing series allocates nothing. Past the cap, measurements land in one overflow series
/// (<c>overflow="true"</c>) so totals stay right while the cardinality stays bounded.
/// </summary>
internal sealed class MetricFamily
{
    private readonly Series?[] _slots;
    private readonly int _mask;
    private readonly int _maxSeries;
    private readonly Lock _gate = new();
    private Series[] _ordered = [];
    private int _count;
    private Series? _overflow;
    private long _overflowMeasurements;

    public MetricFamily(string name, string help, MetricKind kind, double[]? bounds, bool observable, int maxSeries)
    {
        Name = name;
        Kind = kind;
        Observable = observable;
        Bounds = kind == MetricKind.Histogram ? bounds ?? HistogramBuckets.PrometheusDefault : [];
        _maxSeries = maxSeries;
        var size = (int)BitOperations.RoundUpToPowerOf2((uint)Math.Max(4, maxSeries * 2));
        _slots = new Series?[size];
        _mask = size - 1;

        var type = kind switch { MetricKind.Counter => "counter", MetricKind.Gauge => "gauge", _ => "histogram" };
        Header = Encoding.UTF8.GetBytes($"# HELP {name} {EscapeHelp(help)}\n# TYPE {name} {type}\n");
        NameUtf8 = Encoding.UTF8.GetBytes(name);
        OverflowLabel = Encoding.UTF8.GetBytes($"metric=\"{name}\"");
        BucketLabels = new byte[Bounds.Length + 1][];
        for (var i = 0; i < Bounds.Length; i++)
        {
            BucketLabels[i] = Encoding.UTF8.GetBytes("le=\"" + PrometheusTextWriter.FormatDouble(Bounds[i]) + "\"");
        }

        BucketLabels[Bounds.Length] = "le=\"+Inf\""u8.ToArray();
    }

    public string Name { get; }

    public MetricKind Kind { get; }

    /// <summary>Values come from observable callbacks at collection time; only series observed in the latest collection are live.</summary>
    public bool Observable { get; }

    /// <summary>Histogram upper bounds (exclusive of +Inf), in base units.</summary>
    public double[] Bounds { get; }

    /// <summary><c># HELP …\n# TYPE …\n</c> in UTF-8.</summary>
    public byte[] Header { get; }

    public byte[] NameUtf8 { get; }

    /// <summary><c>metric="name"</c>, the label of this family's line in the overflow counter.</summary>
    public byte[] OverflowLabel { get; }

    /// <summary><c>le="…"</c> per bucket, the last one <c>+Inf</c>.</summary>
    public byte[][] BucketLabels { get; }

    /// <summary>Measurements that went to the overflow series because the family was full.</summary>
    public long OverflowMeasurements => Interlocked.Read(ref _overflowMeasurements);

    /// <summary>Series in label order (a snapshot; replaced, never mutated, when a series is added).</summary>
    public Series[] OrderedSeries => Volatile.Read(ref _ordered);

    public Series GetSeries(ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        var hash = Series.HashOf(tags);
        var found = Probe(tags, hash);
        if (found is not null)
        {
            return found;
        }

        var overflow = Volatile.Read(ref _overflow);
        if (overflow is not null)
        {
            Interlocked.Increment(ref _overflowMeasurements);
            return overflow;
        }

        return AddSeries(tags, hash);
    }

    private Series? Probe(ReadOnlySpan<KeyValuePair<string, object?>> tags, int hash)
    {
        for (var i = hash & _mask; ; i = (i + 1) & _mask)
        {
            var candidate = Volatile.Read(ref _slots[i]);
            if (candidate is null)
            {
                return null;
            }

            if (candidate.Hash == hash && candidate.Matches(tags))
            {
                return candidate;
            }
        }
    }

    private Series AddSeries(ReadOnlySpan<KeyValuePair<string, object?>> tags, int hash)
    {
        lock (_gate)
        {
            var existing = Probe(tags, hash);
            if (existing is not null)
            {
                return existing;
            }

            if (_count >= _maxSeries)
            {
                var overflow = _overflow;
                if (overflow is null)
                {
                    overflow = Series.CreateOverflow(Bounds.Length);
                    Insert(overflow);
                    Volatile.Write(ref _overflow, overflow);
                }

                Interlocked.Increment(ref _overflowMeasurements);
                return overflow;
            }

            var series = Series.Create(tags, hash, Kind == MetricKind.Histogram ? Bounds.Length : 0);
            var slot = hash & _mask;
            while (_slots[slot] is not null)
            {
                slot = (slot + 1) & _mask;
            }

            // Published after construction: a concurrent Probe sees either null (and comes here) or the whole series.
            Volatile.Write(ref _slots[slot], series);
            _count++;
            Insert(series);
            return series;
        }
    }

    private void Insert(Series series)
    {
        var old = _ordered;
        var copy = new Series[old.Length + 1];
        var at = 0;
        while (at < old.Length && string.CompareOrdinal(old[at].LabelText, series.LabelText) < 0)
        {
            at++;
        }

        Array.Copy(old, 0, copy, 0, at);
        copy[at] = series;
        Array.Copy(old, at, copy, at + 1, old.Length - at);
        Volatile.Write(ref _ordered, copy);
    }

    /// <summary>Exposition format 0.0.4: in HELP text, backslash and line feed are escaped.</summary>
    public static string EscapeHelp(string help)
    {
        var builder = new StringBuilder(help.Length);
        foreach (var c in help)
        {
            switch (c)
            {
                case '\\': builder.Append("\\\\"); break;
                case '\n': builder.Append("\\n"); break;
                case '\r': break;
                default: builder.Append(c); break;
            }
        }

        return builder.ToString();
    }
}
