using SignalStream.Hub.MetricsExporter.Internal;

namespace SignalStream.Hub.MetricsExporter;

/// <summary>
/// The exporter's settings, under <c>Observability</c> (the section's name predates the exporter's own folder): what
/// <c>/metrics</c> exports and how much of it.
/// </summary>
public sealed class MetricsExporterOptions
{
    public const string SectionName = "Observability";

    /// <summary>Meters exported besides ours: ASP.NET Core, Kestrel, SignalR connections, routing, HttpClient and the runtime.</summary>
    public static readonly IReadOnlyList<string> DefaultMeters =
    [
        "SignalStream.",
        "Microsoft.AspNetCore.Hosting",
        "Microsoft.AspNetCore.Server.Kestrel",
        "Microsoft.AspNetCore.Http.Connections",
        "Microsoft.AspNetCore.Routing",
        "Microsoft.AspNetCore.Diagnostics",
        "Microsoft.AspNetCore.RateLimiting",
        "System.Runtime",
        "System.Net.Http",
    ];

    public const string DefaultPath = "/metrics";

    /// <summary>Path of the Prometheus endpoint.</summary>
    public string Path { get; set; } = DefaultPath;

    /// <summary>Upper bound on series per metric; measurements past it go to one <c>overflow="true"</c> series.</summary>
    public int MaxSeriesPerMetric { get; set; } = 1000;

    /// <summary>More meter names (exact, or a prefix ending in '.') to export.</summary>
    public List<string> AdditionalMeters { get; set; } = [];

    /// <summary>Bucket upper bounds per histogram, by Prometheus name; overrides the built-in table.</summary>
    public Dictionary<string, double[]> Buckets { get; set; } = new(StringComparer.Ordinal);

    /// <summary>
    /// The endpoint's path from <paramref name="configuration"/>, for what needs it before the options are bound: the
    /// management port's gate and tracing's filter of scrapes.
    /// </summary>
    public static string PathIn(IConfiguration configuration) =>
        configuration[$"{SectionName}:{nameof(Path)}"] is { Length: > 0 } path ? path : DefaultPath;

    internal bool ExportsMeter(string meterName)
    {
        foreach (var prefix in DefaultMeters)
        {
            if (Matches(meterName, prefix))
            {
                return true;
            }
        }

        foreach (var prefix in AdditionalMeters)
        {
            if (Matches(meterName, prefix))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>Every problem with these settings, each naming its key and how to fix it.</summary>
    internal List<string> Validate()
    {
        var problems = new List<string>();
        if (string.IsNullOrWhiteSpace(Path) || !Path.StartsWith('/'))
        {
            problems.Add($"Observability:Path is '{Path}'; set it to an absolute path such as '/metrics'.");
        }

        if (MaxSeriesPerMetric is < 1 or > 100_000)
        {
            problems.Add($"Observability:MaxSeriesPerMetric is {MaxSeriesPerMetric}; use a value from 1 to 100000 (default 1000).");
        }

        foreach (var meter in AdditionalMeters)
        {
            if (string.IsNullOrWhiteSpace(meter))
            {
                problems.Add("Observability:AdditionalMeters has an empty entry; remove it or name a meter (e.g. 'System.Net.Sockets').");
            }
        }

        foreach (var (metric, bounds) in Buckets)
        {
            if (!PrometheusNaming.IsValidMetricName(metric))
            {
                problems.Add($"Observability:Buckets:{metric} does not name a Prometheus metric; use the exported name, e.g. 'signalstream_pipeline_latency_seconds'.");
            }

            if (bounds is null || !HistogramBuckets.IsStrictlyIncreasing(bounds))
            {
                problems.Add($"Observability:Buckets:{metric} must be a non-empty list of finite, strictly increasing upper bounds (+Inf is added for you).");
            }
        }

        return problems;
    }

    private static bool Matches(string meterName, string pattern) =>
        pattern.EndsWith('.')
            ? meterName.StartsWith(pattern, StringComparison.Ordinal)
            : meterName.Equals(pattern, StringComparison.Ordinal)
              || (meterName.StartsWith(pattern, StringComparison.Ordinal) && meterName[pattern.Length] == '.');
}
