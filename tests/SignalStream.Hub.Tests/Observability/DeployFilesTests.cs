using System.Diagnostics.Metrics;
using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.Extensions.DependencyInjection;

namespace SignalStream.Hub.Tests.Observability;

/// <summary>The Grafana dashboard and the alert rules only query metrics the server exports.</summary>
public sealed partial class DeployFilesTests
{
    /// <summary>Series Prometheus makes itself for every target.</summary>
    private static readonly HashSet<string> s_prometheusOwn = ["up", "scrape_duration_seconds", "scrape_samples_scraped", "ALERTS"];

    private static readonly HashSet<string> s_promQlWords =
    [
        "by", "without", "on", "ignoring", "group_left", "group_right", "and", "or", "unless", "offset", "bool",
        "sum", "min", "max", "avg", "count", "stddev", "stdvar", "topk", "bottomk", "quantile", "count_values", "group",
        "inf", "nan",
    ];

    [Fact]
    public async Task EveryMetricInTheDashboardAndAlertRulesIsExported()
    {
        await using var server = await TestServer.StartAsync(TestServer.SimulatedRun);
        using var meter = ContractMetrics.Emit(server.Services.GetRequiredService<IMeterFactory>());
        (await server.Http.GetAsync(new Uri("/health/live", UriKind.Relative)).WaitAsync(TimeSpan.FromSeconds(30))).EnsureSuccessStatusCode();
        var exported = ExportedSampleNames(await server.ScrapeAsync());

        var queries = DashboardQueries().Concat(AlertQueries()).ToList();
        var missing = queries
            .SelectMany(q => MetricNames(q.Expression).Select(name => (q.Source, Name: name)))
            .Where(m => !exported.Contains(m.Name) && !s_prometheusOwn.Contains(m.Name))
            .Select(m => $"{m.Source}: {m.Name}")
            .Distinct()
            .ToList();

        Assert.True(queries.Count > 20, $"only {queries.Count} queries found; is the dashboard or the rules file empty?");
        Assert.True(missing.Count == 0, "not exported by the server:\n" + string.Join('\n', missing));
    }

    [Fact]
    public void MetricNamesAreReadFromPromQlWithoutLabelsFunctionsOrRanges()
    {
        var names = MetricNames(
            "sum by (model) (increase(signalstream_signal_outcomes_total{outcome=~\"(?i)win\",instance=~\"$instance\"}[24h])) " +
            "/ histogram_quantile(0.99, sum by (le) (rate(signalstream_pipeline_latency_seconds_bucket[$__rate_interval]))) " +
            "and on () (up == 1) or vector(0) > bool 2e-3");

        Assert.Equal(["signalstream_signal_outcomes_total", "signalstream_pipeline_latency_seconds_bucket", "up"], names);
    }

    /// <summary>
    /// Every series name a query can select in a scrape: a histogram only by its _bucket, _sum and _count series (its
    /// bare name selects nothing in Prometheus, so a query on it would stay empty and an alert on it never fire).
    /// </summary>
    internal static HashSet<string> ExportedSampleNames(string exposition)
    {
        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (var family in ExpositionParser.Parse(exposition).Values)
        {
            if (family.Type == "histogram")
            {
                names.Add(family.Name + "_bucket");
                names.Add(family.Name + "_sum");
                names.Add(family.Name + "_count");
            }
            else
            {
                names.Add(family.Name);
            }
        }

        return names;
    }

    [Fact]
    public void AHistogramIsSelectedByItsBucketsNotByItsBareName()
    {
        var names = ExportedSampleNames(
            "# TYPE lag_seconds histogram\nlag_seconds_bucket{le=\"+Inf\"} 1\nlag_seconds_sum 0.5\nlag_seconds_count 1\n" +
            "# TYPE depth gauge\ndepth 3\n");

        Assert.Equal(["depth", "lag_seconds_bucket", "lag_seconds_count", "lag_seconds_sum"], names.Order(StringComparer.Ordinal));
    }

    internal static IEnumerable<(string Source, string Expression)> DashboardQueries()
    {
        var root = ExternalTool.RepositoryRoot();
        foreach (var file in Directory.GetFiles(Path.Combine(root, "deploy", "grafana", "dashboards"), "*.json"))
        {
            using var document = JsonDocument.Parse(File.ReadAllText(file));
            foreach (var expression in Expressions(document.RootElement))
            {
                yield return (Path.GetFileName(file), expression);
            }
        }
    }

    internal static IEnumerable<(string Source, string Expression)> AlertQueries()
    {
        // The rules file keeps every expr on one line (promtool check rules reads it the same way).
        var file = Path.Combine(ExternalTool.RepositoryRoot(), "deploy", "prometheus", "alerts.yml");
        foreach (var line in File.ReadLines(file))
        {
            var match = ExprLine().Match(line);
            if (match.Success)
            {
                yield return ("alerts.yml", match.Groups[1].Value);
            }
        }
    }

    internal static List<string> MetricNames(string expression)
    {
        var text = StringLiteral().Replace(expression, "\"\"");
        text = LabelMatchers().Replace(text, "");
        text = RangeOrSubquery().Replace(text, "");
        text = Grouping().Replace(text, "");
        var names = new List<string>();
        foreach (Match token in Identifier().Matches(text))
        {
            var name = token.Groups[1].Value;
            var isCall = token.Groups[2].Success;
            if (!isCall && !s_promQlWords.Contains(name.ToLowerInvariant()) && !names.Contains(name))
            {
                names.Add(name);
            }
        }

        return names;
    }

    private static IEnumerable<string> Expressions(JsonElement element)
    {
        if (element.ValueKind == JsonValueKind.Object)
        {
            foreach (var property in element.EnumerateObject())
            {
                if (property.Name == "expr" && property.Value.ValueKind == JsonValueKind.String)
                {
                    yield return property.Value.GetString()!;
                }
                else
                {
                    foreach (var nested in Expressions(property.Value))
                    {
                        yield return nested;
                    }
                }
            }
        }
        else if (element.ValueKind == JsonValueKind.Array)
        {
            foreach (var item in element.EnumerateArray())
            {
                foreach (var nested in Expressions(item))
                {
                    yield return nested;
                }
            }
        }
    }

    [GeneratedRegex(@"^\s*expr:\s*(.+?)\s*$")]
    private static partial Regex ExprLine();

    [GeneratedRegex("\"(?:[^\"\\\\]|\\\\.)*\"")]
    private static partial Regex StringLiteral();

    [GeneratedRegex(@"\{[^}]*\}")]
    private static partial Regex LabelMatchers();

    [GeneratedRegex(@"\[[^\]]*\]")]
    private static partial Regex RangeOrSubquery();

    [GeneratedRegex(@"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", RegexOptions.IgnoreCase)]
    private static partial Regex Grouping();

    [GeneratedRegex(@"(?<![\w.$])([a-zA-Z_:][a-zA-Z0-9_:]*)\b(\s*\()?")]
    private static partial Regex Identifier();
}
