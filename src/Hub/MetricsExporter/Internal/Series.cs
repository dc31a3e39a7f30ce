using System.Globalization;
using System.Text;

namespace SignalStream.Hub.MetricsExporter.Internal;

/// <summary>Prometheus metric types we expose.</summary>
internal enum MetricKind : byte
{
    Counter,
    Gauge,
    Histogram,
}

/// <summary>
/// One time series: a tag set and its running value. Created once per distinct tag set (rare), then updated
/// lock-free from measurement callbacks; everything the renderer needs is encoded to UTF-8 at creation.
/// </summary>
internal sealed class Series
{
    private static readonly KeyValuePair<string, object?>[] s_noTags = [];

    private double _value;
    private double _sum;
    private long _count;
    private readonly long[]? _buckets;

    private Series(KeyValuePair<string, object?>[] tags, int hash, string labelText, byte[] labelBody, int bucketCount)
    {
        Tags = tags;
        Hash = hash;
        LabelText = labelText;
        LabelBody = labelBody;
        _buckets = bucketCount > 0 ? new long[bucketCount + 1] : null;
    }

    /// <summary>The tag set as measured (a private copy); compared against incoming tags on lookup.</summary>
    public KeyValuePair<string, object?>[] Tags { get; }

    public int Hash { get; }

    /// <summary><c>a="x",b="y"</c> (no braces); the sort key that makes the output deterministic.</summary>
    public string LabelText { get; }

    /// <summary><see cref="LabelText"/> in UTF-8.</summary>
    public byte[] LabelBody { get; }

    /// <summary>Collection generation of the last observation (observable instruments only report live series).</summary>
    public long Generation;

    public double Value => Volatile.Read(ref _value);

    public double Sum => Volatile.Read(ref _sum);

    public static Series Create(ReadOnlySpan<KeyValuePair<string, object?>> tags, int hash, int bucketCount)
    {
        var copy = tags.Length == 0 ? s_noTags : tags.ToArray();
        var labels = FormatLabels(copy);
        return new Series(copy, hash, labels, Encoding.UTF8.GetBytes(labels), bucketCount);
    }

    /// <summary>The series that takes measurements once a family holds its maximum number of series.</summary>
    public static Series CreateOverflow(int bucketCount)
    {
        const string labels = "overflow=\"true\"";
        return new Series(s_noTags, 0, labels, Encoding.UTF8.GetBytes(labels), bucketCount);
    }

    public void Add(double delta)
    {
        var current = Volatile.Read(ref _value);
        while (true)
        {
            var seen = Interlocked.CompareExchange(ref _value, current + delta, current);
            if (seen.Equals(current))
            {
                return;
            }

            current = seen;
        }
    }

    public void Set(double value) => Interlocked.Exchange(ref _value, value);

    public void Record(double value, double[] bounds)
    {
        var index = bounds.Length;
        for (var i = 0; i < bounds.Length; i++)
        {
            if (value <= bounds[i])
            {
                index = i;
                break;
            }
        }

        Interlocked.Increment(ref _buckets![index]);
        Interlocked.Increment(ref _count);
        var current = Volatile.Read(ref _sum);
        while (true)
        {
            var seen = Interlocked.CompareExchange(ref _sum, current + value, current);
            if (seen.Equals(current))
            {
                return;
            }

            current = seen;
        }
    }

    /// <summary>Non-cumulative count of bucket <paramref name="index"/> (the last one is +Inf).</summary>
    public long BucketCount(int index) => Volatile.Read(ref _buckets![index]);

    /// <summary>Order-independent hash of a tag set, so that the same tags in another order find the same series.</summary>
    public static int HashOf(ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        var hash = tags.Length;
        foreach (var tag in tags)
        {
            hash += HashCode.Combine(tag.Key, tag.Value);
        }

        return hash;
    }

    public bool Matches(ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        var mine = Tags;
        if (mine.Length != tags.Length)
        {
            return false;
        }

        foreach (var tag in tags)
        {
            var found = false;
            for (var i = 0; i < mine.Length; i++)
            {
                if (string.Equals(mine[i].Key, tag.Key, StringComparison.Ordinal))
                {
                    found = Equals(mine[i].Value, tag.Value);
                    break;
                }
            }

            if (!found)
            {
                return false;
            }
        }

        return true;
    }

    private static string FormatLabels(KeyValuePair<string, object?>[] tags)
    {
        if (tags.Length == 0)
        {
            return string.Empty;
        }

        var pairs = new List<(string Name, string Value)>(tags.Length);
        foreach (var tag in tags)
        {
            var name = PrometheusNaming.LabelName(tag.Key);
            if (name == "le" || name == "quantile" || pairs.Exists(p => p.Name == name))
            {
                // 'le' and 'quantile' are reserved for buckets and summaries; a duplicate name would make the line invalid.
                name = "tag_" + name;
                if (pairs.Exists(p => p.Name == name))
                {
                    continue;
                }
            }

            pairs.Add((name, FormatValue(tag.Value)));
        }

        pairs.Sort((a, b) => string.CompareOrdinal(a.Name, b.Name));
        var builder = new StringBuilder();
        foreach (var (name, value) in pairs)
        {
            if (builder.Length > 0)
            {
                builder.Append(',');
            }

            builder.Append(name).Append("=\"");
            AppendEscapedLabelValue(builder, value);
            builder.Append('"');
        }

        return builder.ToString();
    }

    private static string FormatValue(object? value) => value switch
    {
        null => string.Empty,
        string s => s,
        bool b => b ? "true" : "false",
        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
        _ => value.ToString() ?? string.Empty,
    };

    /// <summary>Exposition format 0.0.4: in label values, backslash, double quote and line feed are escaped.</summary>
    public static void AppendEscapedLabelValue(StringBuilder builder, string value)
    {
        foreach (var c in value)
        {
            switch (c)
            {
                case '\\': builder.Append("\\\\"); break;
                case '"': builder.Append("\\\""); break;
                case '\n': builder.Append("\\n"); break;
                default: builder.Append(c); break;
            }
        }
    }
}
