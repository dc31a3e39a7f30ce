using System.Globalization;
using System.Text;
using System.Text.Json;
using SignalStream.LoadTests.Scenarios;

namespace SignalStream.LoadTests.Reporting;

/// <summary>Writes a run's results as a console table, <c>results.json</c>, <c>results.md</c> and <c>chart.png</c>
/// (a capacity sweep adds its tables, its capacity line and <c>sweep.png</c>: <c>ReportWriter.Sweep.cs</c>).</summary>
internal static partial class ReportWriter
{
    private static readonly JsonSerializerOptions JsonOptions = new() { WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.CamelCase };
    private static readonly uint[] Palette = [0x1F77B4, 0xD62728, 0x2CA02C, 0xFF7F0E, 0x9467BD, 0x8C564B, 0xE377C2, 0x17BECF, 0x7F7F7F, 0xBCBD22];

    public static void Write(IReadOnlyList<ScenarioResult> results, IReadOnlyList<SweepResult> sweeps, LoadTestOptions options, string folder, string machine)
    {
        var markdown = Markdown(results, options, machine) + SweepMarkdown(sweeps, options);
        Console.WriteLine();
        Console.WriteLine(markdown);
        File.WriteAllText(Path.Combine(folder, "results.md"), markdown);
        object? capacity = sweeps.Count == 0 ? null : SweepCapacitySummary(sweeps, options);
        File.WriteAllText(Path.Combine(folder, "results.json"), JsonSerializer.Serialize(
            new { machine, options = Describe(options), results, sweeps, capacity },
            JsonOptions));
        var charts = "";
        if (results.Count > 0)
        {
            Chart(results).Save(Path.Combine(folder, "chart.png"));
            charts += ", chart.png";
        }

        if (sweeps.Count > 0)
        {
            SweepChart(sweeps, options.P99BoundMs).Save(Path.Combine(folder, "sweep.png"));
            charts += ", sweep.png";
        }

        Console.WriteLine($"Reports: {Path.Combine(folder, "results.md")}, results.json{charts}");
    }

    public static string Describe(LoadTestOptions o)
    {
        var ci = CultureInfo.InvariantCulture;
        var text = new StringBuilder();
        text.Append(ci, $"--scenarios {string.Join(',', o.Scenarios)} --targets {string.Join(',', o.Targets)} --clients {o.Clients} --symbols {o.Symbols} ");
        text.Append(ci, $"--symbols-per-client {o.SymbolsPerClient} --rate {o.Rate} --duration {o.Duration} --slow-fraction {o.SlowFraction} --sources {o.SourceAddresses}");
        if (o.Protocol != "json")
        {
            text.Append(ci, $" --protocol {o.Protocol}");
        }
        if (o.Scenarios.Contains("bell"))
        {
            text.Append(ci, $" --bell-symbols {o.BellSymbols} --bell-fanout {o.BellFanOut} --bell-models {o.BellModels}");
            if (o.BellRepeats > 1)
            {
                text.Append(ci, $" --bell-repeats {o.BellRepeats}");
            }
        }

        if (o.Scenarios.Contains("outage"))
        {
            text.Append(ci, $" --engine-speed {o.EngineSpeed}");
        }

        if (o.ServerEnvironment.Count > 0)
        {
            text.Append(ci, $" --server-env {string.Join(',', o.ServerEnvironment.Select(e => $"{e.Key}={e.Value}"))}");
        }

        if (o.Scenarios.Contains("sweep"))
        {
            text.Append(ci, $" --sweep-rates {string.Join(',', o.SweepRates.Select(r => r.ToString(ci)))} --sweep-refine {o.SweepRefine} --sweep-confirm {o.SweepConfirm} --p99-bound-ms {o.P99BoundMs}");
        }

        return text.ToString();
    }

    public static string Markdown(IReadOnlyList<ScenarioResult> results, LoadTestOptions options, string machine)
    {
        var md = new StringBuilder();
        var ci = CultureInfo.InvariantCulture;
        md.AppendLine(ci, $"Machine: {machine}").AppendLine();
        md.AppendLine(ci, $"Options: `{Describe(options)}`").AppendLine();
        if (results.Count == 0)
        {
            return md.ToString();
        }

        md.AppendLine("| scenario | server | clients | connect/s | delivered/s | offered/s | p50 ms | p90 ms | p99 ms | p99.9 ms | max ms | gaps | dups | missing | lost clients | slow cut/slow | errors | server CPU avg % | server RSS MB | idle KB/conn |");
        md.AppendLine("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
        foreach (var r in results)
        {
            md.AppendLine(ci,
                $"| {r.Scenario} | {r.Target} | {r.Clients} | {r.ConnectsPerSecond:0} | {r.DeliveredPerSecond:0} | {r.OfferedPerSecond:0} | {r.P50Ms:0.0} | {r.P90Ms:0.0} | {r.P99Ms:0.0} | {r.P999Ms:0.0} | {r.MaxMs:0.0} | {r.Gaps} | {r.Duplicates} | {r.Missing} | {r.ClientsLost} | {r.SlowDisconnected}/{r.SlowClients} | {r.Errors} | {r.ServerCpuAveragePercent:0} | {r.ServerRssPeakMb:0} | {r.IdleKbPerConnection:0.0} |");
        }

        var ratios = Ratios(results).ToList();
        if (ratios.Count > 0)
        {
            md.AppendLine().AppendLine("SignalStream / each peer, same workload:").AppendLine();
            md.AppendLine("| scenario | peer | throughput ratio | p99 SignalStream ms | p99 peer ms | p99 ratio (lower is better) |");
            md.AppendLine("| --- | --- | ---: | ---: | ---: | ---: |");
            foreach (var (scenario, ours, peer) in ratios)
            {
                md.AppendLine(ci, $"| {scenario} | {Targets.Name(peer.Target)} | {ours.DeliveredPerSecond / Math.Max(peer.DeliveredPerSecond, 1):0.00}x | {ours.P99Ms:0.0} | {peer.P99Ms:0.0} | {ours.P99Ms / Math.Max(peer.P99Ms, 0.001):0.00} |");
            }
        }

        var notes = results.Where(r => r.Notes.Count > 0 || r.ErrorSamples.Count > 0).ToList();
        if (notes.Count > 0)
        {
            md.AppendLine().AppendLine("Notes:").AppendLine();
            foreach (var r in notes)
            {
                foreach (var note in r.Notes.Concat(r.ErrorSamples.Select(e => "error: " + e)))
                {
                    md.AppendLine(ci, $"- {r.Scenario}/{r.Target}: {note}");
                }
            }
        }

        return md.ToString();
    }

    /// <summary>SignalStream's row of each scenario against every peer's row of the same scenario.</summary>
    private static IEnumerable<(string Scenario, ScenarioResult Ours, ScenarioResult Peer)> Ratios(IReadOnlyList<ScenarioResult> results)
    {
        foreach (var ours in results.Where(r => r.Target == Targets.SignalStream))
        {
            foreach (var peer in results.Where(r => Targets.IsPeer(r.Target) && r.Scenario == ours.Scenario))
            {
                yield return (ours.Scenario, ours, peer);
            }
        }
    }

    /// <summary>Left: delivered messages per second over time, one line per run; right: p50/p99 per run.</summary>
    private static PngImage Chart(IReadOnlyList<ScenarioResult> results)
    {
        const int width = 1200, height = 520, left = 80, top = 50, plotWidth = 640, plotHeight = 380;
        var image = new PngImage(width, height);
        image.Text(left, 14, "DELIVERED MESSAGES PER SECOND", 0x000000, 3);
        var maxY = Math.Max(1, results.SelectMany(r => r.DeliveredSeries).DefaultIfEmpty(1).Max());
        var maxX = Math.Max(2, results.Select(r => r.DeliveredSeries.Count).DefaultIfEmpty(2).Max());
        image.Line(left, top, left, top + plotHeight, 0x000000);
        image.Line(left, top + plotHeight, left + plotWidth, top + plotHeight, 0x000000);
        for (var tick = 0; tick <= 4; tick++)
        {
            var y = top + plotHeight - (tick * plotHeight / 4);
            image.Line(left - 4, y, left + plotWidth, y, 0xDDDDDD);
            image.Text(4, y - 5, Compact(maxY * tick / 4.0), 0x000000);
        }

        image.Text(left + plotWidth - 120, top + plotHeight + 10, $"{maxX} S", 0x000000);
        for (var i = 0; i < results.Count; i++)
        {
            var series = results[i].DeliveredSeries;
            var colour = Palette[i % Palette.Length];
            for (var s = 1; s < series.Count; s++)
            {
                image.Line(
                    left + ((s - 1) * plotWidth / (maxX - 1)), top + plotHeight - (int)(series[s - 1] * plotHeight / maxY),
                    left + (s * plotWidth / (maxX - 1)), top + plotHeight - (int)(series[s] * plotHeight / maxY), colour, 2);
            }
        }

        // Right: legend with p50 / p99 bars (log-free, scaled to the largest p99).
        var legendX = left + plotWidth + 30;
        image.Text(legendX, 14, "P50 / P99 MS", 0x000000, 3);
        var maxP99 = Math.Max(0.001, results.Select(r => r.P99Ms).DefaultIfEmpty(1).Max());
        for (var i = 0; i < results.Count; i++)
        {
            var r = results[i];
            var y = top + (i * 44);
            var colour = Palette[i % Palette.Length];
            image.Fill(legendX, y, 10, 10, colour);
            image.Text(legendX + 16, y, $"{r.Scenario} {r.Target}", 0x000000);
            var barMax = width - legendX - 100;
            image.Fill(legendX, y + 14, Math.Max(1, (int)(r.P99Ms / maxP99 * barMax)), 8, colour);
            image.Fill(legendX, y + 24, Math.Max(1, (int)(r.P50Ms / maxP99 * barMax)), 6, 0x999999);
            image.Text(legendX + barMax + 6, y + 14, string.Create(CultureInfo.InvariantCulture, $"{r.P99Ms:0.0}"), 0x000000);
            image.Text(legendX + barMax + 6, y + 26, string.Create(CultureInfo.InvariantCulture, $"{r.P50Ms:0.0}"), 0x555555);
        }

        return image;
    }

    private static string Compact(double value) => value >= 1_000_000
        ? string.Create(CultureInfo.InvariantCulture, $"{value / 1_000_000:0.#}M")
        : value >= 1000 ? string.Create(CultureInfo.InvariantCulture, $"{value / 1000:0.#}K") : string.Create(CultureInfo.InvariantCulture, $"{value:0}");
}
