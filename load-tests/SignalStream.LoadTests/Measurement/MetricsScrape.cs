using System.Globalization;

namespace SignalStream.LoadTests.Measurement;

/// <summary>One read of a node's Prometheus endpoint (<c>/metrics</c>): sums of samples by metric name.</summary>
internal sealed class MetricsScrape
{
    private readonly string[] _lines;

    private MetricsScrape(string[] lines) => _lines = lines;

    public static async Task<MetricsScrape> ReadAsync(Uri node, CancellationToken cancellationToken)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
        try
        {
            var text = await http.GetStringAsync(new Uri(node, "/metrics"), cancellationToken);
            return new MetricsScrape(text.Split('\n'));
        }
        catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException)
        {
            Console.Error.WriteLine($"could not read {node}metrics: {ex.Message}");
            return new MetricsScrape([]);
        }
    }

    /// <summary>The exposition as read, line by line (empty when the read failed).</summary>
    public IReadOnlyList<string> Lines => _lines;

    /// <summary>The sum of every sample named <paramref name="name"/> (all label sets), whose labels contain
    /// <paramref name="labelFilter"/> when given; 0 when absent.</summary>
    public double Sum(string name, string? labelFilter = null)
    {
        var sum = 0.0;
        foreach (var line in _lines)
        {
            if (!line.StartsWith(name, StringComparison.Ordinal) || line.Length <= name.Length || line[name.Length] is not ('{' or ' '))
            {
                continue;
            }

            if (labelFilter is not null && !line.Contains(labelFilter, StringComparison.Ordinal))
            {
                continue;
            }

            var value = line[(line.LastIndexOf(' ') + 1)..];
            if (double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var parsed))
            {
                sum += parsed;
            }
        }

        return sum;
    }

    /// <summary>Cumulative histogram buckets of <paramref name="name"/> (<c>name_bucket{le="…"}</c>), summed over label sets
    /// (those whose labels contain <paramref name="labelFilter"/> when given).</summary>
    public SortedDictionary<double, double> Buckets(string name, string? labelFilter = null)
    {
        var buckets = new SortedDictionary<double, double>();
        var prefix = name + "_bucket{";
        foreach (var line in _lines)
        {
            if (!line.StartsWith(prefix, StringComparison.Ordinal) || (labelFilter is not null && !line.Contains(labelFilter, StringComparison.Ordinal)))
            {
                continue;
            }

            var le = line.IndexOf("le=\"", StringComparison.Ordinal);
            if (le < 0)
            {
                continue;
            }

            var end = line.IndexOf('"', le + 4);
            var bound = line[(le + 4)..end] == "+Inf" ? double.PositiveInfinity : double.Parse(line[(le + 4)..end], CultureInfo.InvariantCulture);
            var value = double.Parse(line[(line.LastIndexOf(' ') + 1)..], CultureInfo.InvariantCulture);
            buckets[bound] = buckets.GetValueOrDefault(bound) + value;
        }

        return buckets;
    }

    /// <summary>The upper bound of the bucket holding the <paramref name="percent"/> percentile of what was observed
    /// between <paramref name="before"/> and <paramref name="after"/>; NaN when nothing was.</summary>
    public static double PercentileBetween(MetricsScrape before, MetricsScrape after, string name, double percent, string? labelFilter = null)
    {
        var early = before.Buckets(name, labelFilter);
        var late = after.Buckets(name, labelFilter);
        var total = late.Count == 0 ? 0 : late.Last().Value - early.GetValueOrDefault(double.PositiveInfinity);
        if (total <= 0)
        {
            return double.NaN;
        }

        var rank = percent / 100 * total;
        foreach (var (bound, count) in late)
        {
            if (count - early.GetValueOrDefault(bound) >= rank)
            {
                return bound;
            }
        }

        return double.PositiveInfinity;
    }
}
