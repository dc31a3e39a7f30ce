using System.Diagnostics;

namespace SignalStream.Hub.Tests.Observability;

/// <summary>
/// Needs the merged tree (every stage, models under models/): a simulated market run, with one SignalR client
/// subscribed, exports every contract metric of DESIGN.md section 4 from the stages' own instruments (no stand-ins),
/// and every metric the dashboard and alert rules query. A metric counts as exported once its family is declared
/// (an instrument exists), since counters such as slow-consumer disconnects legitimately stay at no samples.
/// </summary>
public sealed class ContractMetricsAfterMergeTests
{
    [Fact]
    public async Task ASimulatedRunExportsEveryContractMetricFromTheStagesThemselves()
    {
        var models = Path.Combine(ExternalTool.RepositoryRoot(), "models");
        await using var server = await TestServer.StartAsync([.. TestServer.SimulatedRun, $"--Models:Path={models}"]);
        await using var client = await HubTestClient.ConnectAsync(server.Address);
        await client.InvokeAsync("Subscribe", new { symbol = "BTCUSDT" });

        // Contract names are families (a histogram by its own name); what the deploy files query are series names.
        var families = ContractMetrics.Names.Concat(ContractMetrics.OperatorNames).ToHashSet(StringComparer.Ordinal);
        var queried = DeployFilesTests.DashboardQueries().Concat(DeployFilesTests.AlertQueries())
            .SelectMany(q => DeployFilesTests.MetricNames(q.Expression))
            .Where(n => n is not ("up" or "ALERTS"))
            .ToHashSet(StringComparer.Ordinal);
        var missing = families.Concat(queried).ToList();
        var text = "";
        var waited = Stopwatch.StartNew();
        while (missing.Count > 0 && waited.Elapsed < TimeSpan.FromSeconds(90))
        {
            text = await server.ScrapeAsync();
            var exportedFamilies = ExpositionParser.Parse(text).Keys.ToHashSet(StringComparer.Ordinal);
            var exportedSeries = DeployFilesTests.ExportedSampleNames(text);
            missing = families.Where(n => !exportedFamilies.Contains(n))
                .Concat(queried.Where(n => !exportedSeries.Contains(n)))
                .Distinct().Order(StringComparer.Ordinal).ToList();
            if (missing.Count > 0)
            {
                await Task.Delay(500);
            }
        }

        Assert.True(missing.Count == 0, "not exported after 90 s of simulated market:\n" + string.Join('\n', missing));
        var (exitCode, output) = await ExternalTool.RunAsync(ExternalTool.Require("promtool"), ["check", "metrics"], text);
        Assert.True(exitCode == 0, $"promtool check metrics exited {exitCode}:\n{output}");
    }
}
