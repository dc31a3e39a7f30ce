using System.Diagnostics;
using System.Net.WebSockets;
using System.Text;

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
        using var client = await SubscribeAsync(server.Address, "BTCUSDT");

        var expected = ContractMetrics.Names.Concat(ContractMetrics.OperatorNames)
            .Concat(DeployFilesTests.DashboardQueries().Concat(DeployFilesTests.AlertQueries()).SelectMany(q => DeployFilesTests.MetricNames(q.Expression)))
            .Where(n => n is not ("up" or "ALERTS"))
            .ToHashSet(StringComparer.Ordinal);
        var missing = expected.ToList();
        var text = "";
        var waited = Stopwatch.StartNew();
        while (missing.Count > 0 && waited.Elapsed < TimeSpan.FromSeconds(90))
        {
            text = await server.ScrapeAsync();
            var exported = DeployFilesTests.ExportedSampleNames(text);
            missing = expected.Where(n => !exported.Contains(n)).Order(StringComparer.Ordinal).ToList();
            if (missing.Count > 0)
            {
                await Task.Delay(500);
            }
        }

        Assert.True(missing.Count == 0, "not exported after 90 s of simulated market:\n" + string.Join('\n', missing));
        var (exitCode, output) = await ExternalTool.RunAsync(ExternalTool.Require("promtool"), ["check", "metrics"], text);
        Assert.True(exitCode == 0, $"promtool check metrics exited {exitCode}:\n{output}");
    }

    /// <summary>A raw SignalR JSON client (the .NET client package is not available here) subscribed to one symbol.</summary>
    private static async Task<ClientWebSocket> SubscribeAsync(Uri address, string symbol)
    {
        var socket = new ClientWebSocket();
        var url = new UriBuilder(address) { Scheme = "ws", Path = "/hubs/signals" }.Uri;
        await socket.ConnectAsync(url, CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(30));
        await SendAsync(socket, "{\"protocol\":\"json\",\"version\":1}\u001e");
        await SendAsync(socket, "{\"type\":1,\"invocationId\":\"1\",\"target\":\"Subscribe\",\"arguments\":[{\"symbol\":\"" + symbol + "\"}]}\u001e");
        return socket;
    }

    private static Task SendAsync(ClientWebSocket socket, string message) =>
        socket.SendAsync(Encoding.UTF8.GetBytes(message), WebSocketMessageType.Text, endOfMessage: true, CancellationToken.None)
            .WaitAsync(TimeSpan.FromSeconds(30));
}
