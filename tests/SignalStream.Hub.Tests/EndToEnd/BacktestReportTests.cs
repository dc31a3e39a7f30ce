using System.Net.Http.Json;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using SignalStream.Contracts;
using SignalStream.Contracts.Serialization;
using SignalStream.EventStore;
using SignalStream.Tools;
using SignalStream.Tools.Replay.Report;
using SignalStream.Ingest.Replay;
using SignalStream.Ingest.Simulated;

namespace SignalStream.Hub.Tests.EndToEnd;

/// <summary>
/// <c>replay --report</c> against what a node really served: a recorded candle file runs through a whole node
/// (production composition, bundled models), whose <c>/api/performance</c> is read once every candle is in the store;
/// replaying the node's stored candles with a report (the tools' command line) gives the same figures, the charts, and — twice — the same
/// <c>report.md</c>, byte for byte.
/// </summary>
[Collection(EndToEndCollection.Name)]
public sealed class BacktestReportTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromMinutes(3);
    private static readonly string[] Symbols = ["BTCUSDT", "ETHUSDT"];
    private const int CandlesPerStream = 400;

    // Loose decision rules, so a short recording gives many signals and outcomes (the replay gets the same).
    private static readonly Dictionary<string, string> Decisions = new()
    {
        ["Signals:MinVoteScore"] = "0.34",
        ["Signals:MinVoteMargin"] = "0",
        ["Signals:RequireFamilyAgreement"] = "false",
        ["Signals:MinRiskReward"] = "0.1",
        ["Signals:ExpiryCandles"] = "4",
    };

    [Fact]
    public async Task TheReportOfAReplayHasTheFiguresTheNodeServedItsChartsAndTheSameTextTwice()
    {
        var work = Directory.CreateTempSubdirectory("signalstream-report-").FullName;
        var data = Path.Combine(work, "data");
        try
        {
            var recording = Path.Combine(work, "recorded.jsonl");
            using (var writer = new StreamWriter(recording))
            {
                CandleFile.WriteJsonLines(writer, MarketSimulator.GenerateClosed(Symbols, [Timeframe.OneMinute], CandlesPerStream));
            }

            PerformanceReport served;
            string models;
            await using (var node = await TestServer.StartOnAsync(data, NodeOn(recording)))
            {
                models = node.Services.GetRequiredService<IConfiguration>()["Models:Path"]!;
                await WaitUntilStoredAsync(node.Services.GetRequiredService<IEventStore>());
                served = (await node.Http.GetFromJsonAsync("/api/performance", ContractsJsonContext.Default.PerformanceReport).WaitAsync(Wait))!;
                await node.StopAsync();
            }

            Assert.Contains(served.Groups, g => g is { Model: "ensemble", Symbol: "*", Timeframe: "*", Wins: > 0, Losses: > 0 });

            var first = Path.Combine(work, "report-a");
            var second = Path.Combine(work, "report-b");
            await ReplayAsync(data, models, "backtest-a", first);
            await ReplayAsync(data, models, "backtest-b", second);

            // Every row of the node's journal is in the report with the same figures, and the report has no other.
            var report = await File.ReadAllTextAsync(Path.Combine(first, "report.md"));
            var reported = StatisticsRows(report).ToHashSet();
            var expected = served.Groups.Select(g => string.Join(" | ", BacktestReport.Row(g))).ToHashSet();
            Assert.True(expected.SetEquals(reported),
                $"served, not in the report:\n{string.Join("\n", expected.Except(reported))}\nin the report, not served:\n{string.Join("\n", reported.Except(expected))}");

            foreach (var chart in new[] { "equity.png", "drawdown.png", "confidence.png", "calibration.png" })
            {
                var png = await File.ReadAllBytesAsync(Path.Combine(first, chart));
                Assert.True(png.Length > 10_000, $"{chart} is {png.Length} bytes");
                Assert.Equal(new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G' }, png[..4]);
                Assert.Contains($"]({chart})", report, StringComparison.Ordinal);
            }

            Assert.Equal(await File.ReadAllBytesAsync(Path.Combine(first, "report.md")), await File.ReadAllBytesAsync(Path.Combine(second, "report.md")));
        }
        finally
        {
            EngineEndToEndTests.DeleteQuietly(work);
        }
    }

    private static string[] NodeOn(string recording) =>
    [
        "--Node:Roles=all",
        "--Ingest:Source=replay",
        $"--Ingest:Replay:Path={recording}",
        "--Ingest:Replay:Speed=0",
        "--Ingest:Symbols=" + string.Join(',', Symbols),
        "--Ingest:Timeframes=1m",
        "--Logging:LogLevel:Default=Warning",
        .. Decisions.Select(d => $"--{d.Key}={d.Value}"),
    ];

    /// <summary>The tools' own command line, as a user types it: <c>signalstream-tools replay … --report DIR</c>.</summary>
    private static async Task ReplayAsync(string data, string models, string ns, string report)
    {
        using var output = new StringWriter();
        using var error = new StringWriter();
        string[] args =
        [
            "replay", "--into", ns, "--path", data, "--models", models, "--report", report,
            .. Decisions.SelectMany(d => new[] { "--set", $"{d.Key}={d.Value}" }),
        ];
        var exit = await ToolsCommandLine.InvokeAsync(args, output, error).WaitAsync(Wait);
        Assert.True(exit == 0, $"replay exited with {exit}: {error}");
    }

    /// <summary>Every candle of the recording is in the store: the node's engine has decided on each of them.</summary>
    private static async Task WaitUntilStoredAsync(IEventStore store)
    {
        using var deadline = new CancellationTokenSource(Wait);
        foreach (var symbol in Symbols)
        {
            while (await store.GetStreamVersionAsync(EventStreams.Candles(new StreamKey(symbol, Timeframe.OneMinute)), deadline.Token) < CandlesPerStream)
            {
                await Task.Delay(100, deadline.Token);
            }
        }
    }

    /// <summary>The cells of every statistics table row (13 columns), joined as the test's expected rows are.</summary>
    private static IEnumerable<string> StatisticsRows(string markdown)
    {
        foreach (var line in markdown.Split('\n'))
        {
            var cells = line.Split(" | ");
            if (line.StartsWith("| ", StringComparison.Ordinal) && cells.Length == 13 && !line.StartsWith("| model | symbol", StringComparison.Ordinal) && !line.StartsWith("| ---", StringComparison.Ordinal))
            {
                yield return line[2..^2];
            }
        }
    }
}
