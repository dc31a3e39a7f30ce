using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Globalization;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using SignalStream.Hub.Tests.Observability;

namespace SignalStream.Hub.Tests.MetricsExporter;

/// <summary>A real Prometheus (Debian's binary) scrapes the server; PromQL over its HTTP API sees our series.</summary>
public sealed class PrometheusServerTests
{
    [Fact]
    public async Task PrometheusScrapesTheServerAndPromQlReturnsTheExpectedSeries()
    {
        var prometheusBinary = ExternalTool.Require("prometheus");
        await using var server = await TestServer.StartAsync(TestServer.SimulatedRun);
        using var meter = ContractMetrics.Emit(server.Services.GetRequiredService<IMeterFactory>());

        var work = Directory.CreateTempSubdirectory("signalstream-prometheus-").FullName;
        var port = LoopbackPort.Free();
        await File.WriteAllTextAsync(Path.Combine(work, "prometheus.yml"), $"""
            global:
              scrape_interval: 1s
              evaluation_interval: 1s
            scrape_configs:
              - job_name: signalstream-test
                static_configs:
                  - targets: ["{server.Address.Authority}"]
            """);
        var start = new ProcessStartInfo(prometheusBinary)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in new[]
                 {
                     $"--config.file={Path.Combine(work, "prometheus.yml")}", $"--storage.tsdb.path={Path.Combine(work, "data")}",
                     $"--web.listen-address=127.0.0.1:{port}", "--log.level=warn",
                 })
        {
            start.ArgumentList.Add(argument);
        }

        using var prometheus = Process.Start(start)!;
        var log = new System.Collections.Concurrent.ConcurrentQueue<string>();
        prometheus.OutputDataReceived += (_, e) => log.Enqueue(e.Data ?? "");
        prometheus.ErrorDataReceived += (_, e) => log.Enqueue(e.Data ?? "");
        prometheus.BeginOutputReadLine();
        prometheus.BeginErrorReadLine();
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}"), Timeout = TimeSpan.FromSeconds(10) };
        try
        {
            // The stand-in measurements (exchange="binance") beside the simulated source's own series.
            var messages = await QueryUntilAsync(http, prometheus, log, "signalstream_ingest_messages_total{job=\"signalstream-test\",exchange=\"binance\"}");
            var series = Assert.Single(messages);
            Assert.Equal("120", series.GetProperty("value")[1].GetString());
            var simulated = Assert.Single(await QueryUntilAsync(http, prometheus, log, "signalstream_ingest_messages_total{job=\"signalstream-test\",exchange=\"simulated\"}"));
            Assert.True(double.Parse(simulated.GetProperty("value")[1].GetString()!, CultureInfo.InvariantCulture) > 0);

            var median = Assert.Single(await QueryUntilAsync(http, prometheus, log,
                "histogram_quantile(0.5, sum by (le) (signalstream_pipeline_latency_seconds_bucket))"));
            var value = double.Parse(median.GetProperty("value")[1].GetString()!, CultureInfo.InvariantCulture);
            // The stand-ins (4 ms, 12 ms, 30 ms) alone put the median in the (0.01, 0.025] bucket, but the simulated
            // market's own signals join them with real latencies (how many, and how slow, depends on the bundled models'
            // confidence and the machine's load), so only "a quantile interpolated inside the exported buckets" is exact.
            Assert.InRange(value, 0.0001, 10);

            // The stand-in model's series: the simulated run's own signals resolve under the bundled models' names.
            var winRate = Assert.Single(await QueryUntilAsync(http, prometheus, log,
                "sum by (model) (signalstream_signal_outcomes_total{model=\"lstm\",outcome=\"win\"}) / sum by (model) (signalstream_signal_outcomes_total{model=\"lstm\"})"));
            Assert.Equal("0.75", winRate.GetProperty("value")[1].GetString());
        }
        finally
        {
            prometheus.Kill(entireProcessTree: true);
            await prometheus.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(30));
            Directory.Delete(work, recursive: true);
        }
    }

    /// <summary>Polls an instant query until it returns series (Prometheus needs a scrape or two first).</summary>
    private static async Task<JsonElement[]> QueryUntilAsync(HttpClient http, Process prometheus, System.Collections.Concurrent.ConcurrentQueue<string> log, string query)
    {
        var deadline = Stopwatch.StartNew();
        var last = "";
        while (deadline.Elapsed < TimeSpan.FromSeconds(60))
        {
            Assert.False(prometheus.HasExited, "prometheus exited:\n" + string.Join('\n', log));
            try
            {
                var body = await http.GetStringAsync(new Uri("/api/v1/query?query=" + Uri.EscapeDataString(query), UriKind.Relative))
                    .WaitAsync(TimeSpan.FromSeconds(10));
                last = body;
                using var document = JsonDocument.Parse(body);
                var result = document.RootElement.GetProperty("data").GetProperty("result");
                if (result.GetArrayLength() > 0)
                {
                    return result.EnumerateArray().Select(e => e.Clone()).ToArray();
                }
            }
            catch (HttpRequestException e)
            {
                last = e.Message; // not listening yet
            }

            await Task.Delay(250);
        }

        throw new TimeoutException($"no series for {query} within 60 s; last answer: {last}\nprometheus log:\n{string.Join('\n', log)}");
    }
}
