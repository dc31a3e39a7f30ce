using System.Globalization;
using System.Text;
using SignalStream.LoadTests.Scenarios;

namespace SignalStream.LoadTests.Reporting;

/// <summary>The capacity sweep's part of the reports: a table per server, the capacity line, <c>sweep.png</c>.</summary>
internal static partial class ReportWriter
{
    private static readonly CultureInfo Invariant = CultureInfo.InvariantCulture;

    /// <summary>"capacity at p99 &lt;= 50 ms: SignalStream X/s (...), SignalR peer Y/s (...), Socket.IO peer Z/s (...);
    /// ratio SignalStream / SignalR peer X/Y, SignalStream / Socket.IO peer X/Z", with what qualifies each figure.</summary>
    public static string CapacityLine(IReadOnlyList<SweepResult> sweeps, double boundMs)
    {
        var parts = sweeps.Select(s => $"{Targets.Name(s.Target)} {Capacity(s)}");
        var line = string.Create(Invariant, $"capacity at p99 <= {boundMs:0.##} ms: {string.Join(", ", parts)}");
        var ours = sweeps.FirstOrDefault(s => s.Target == Targets.SignalStream);
        var peers = sweeps.Where(s => Targets.IsPeer(s.Target)).ToList();
        if (ours is null || peers.Count == 0)
        {
            return line;
        }

        var ratios = peers.Select(peer => $"SignalStream / {Targets.Name(peer.Target)} " + (Ratio(ours, peer) is { } ratio
            ? string.Create(Invariant, $"{ratio:0.00}x")
            : "n/a (no step within the bound)"));
        line += $"; ratio {string.Join(", ", ratios)}";
        if (ours.CapacityIsLowerBound || peers.Any(p => p.CapacityIsLowerBound))
        {
            line += " (a capacity at the ladder's top is a floor: extend --sweep-rates)";
        }

        return line;
    }

    /// <summary>SignalStream's capacity over a peer's; null when either had no step within the bound.</summary>
    private static double? Ratio(SweepResult ours, SweepResult peer) =>
        ours.CapacityStep is null || peer.CapacityStep is null ? null : ours.CapacityPerSecond / peer.CapacityPerSecond;

    private static string Capacity(SweepResult sweep) => sweep.CapacityStep is { } step
        ? string.Create(Invariant,
            $"{(sweep.CapacityIsLowerBound ? ">= " : "")}{step.Result.DeliveredPerSecond:N0}/s (at {step.Rate:0.##} signals/s, p99 {step.Result.P99Ms:0.0} ms, {(sweep.Steps.Count(s => s.Rate == step.Rate) > 1 ? "confirmed" : "measured once")})")
        : "none within the bound";

    private static object SweepCapacitySummary(IReadOnlyList<SweepResult> sweeps, LoadTestOptions options)
    {
        var ours = sweeps.FirstOrDefault(s => s.Target == Targets.SignalStream);
        return new
        {
            p99BoundMs = options.P99BoundMs,
            signalStreamPerSecond = ours?.CapacityStep?.Result.DeliveredPerSecond,
            signalStreamIsLowerBound = ours?.CapacityIsLowerBound,
            peers = sweeps.Where(s => Targets.IsPeer(s.Target)).Select(peer => new
            {
                target = peer.Target,
                perSecond = peer.CapacityStep?.Result.DeliveredPerSecond,
                isLowerBound = peer.CapacityIsLowerBound,
                ratio = ours is null ? null : Ratio(ours, peer) is { } r ? Math.Round(r, 2) : (double?)null,
            }).ToList(),
            line = CapacityLine(sweeps, options.P99BoundMs),
        };
    }

    private static string SweepMarkdown(IReadOnlyList<SweepResult> sweeps, LoadTestOptions options)
    {
        if (sweeps.Count == 0)
        {
            return "";
        }

        var md = new StringBuilder();
        md.AppendLine(Invariant, $"Capacity sweep: the steady workload at each rate of the ladder for {options.Duration:0.#} s, clients connected once; a step");
        md.AppendLine(Invariant, $"counts when its p99 <= {options.P99BoundMs:0.##} ms, it delivered >= {SweepCapacity.SaturatedBelow:P0} of what it offered, its backlog drained and no signal");
        md.AppendLine(Invariant, $"was missing, duplicated or out of order. The climb stops after {SweepCapacity.MissesInARow} steps in a row that do not count, or at the first saturated step;");
        md.AppendLine(Invariant, $"then up to {options.SweepRefine} `refine` steps halve the bracket between the capacity step and the first rate above it that did not count,");
        md.AppendLine(Invariant, $"and up to {options.SweepConfirm} `confirm` steps measure the capacity's rate again (a rate that misses once does not count; refinement goes first).");
        foreach (var sweep in sweeps)
        {
            var end = sweep.StoppedBecause is { } why ? $"stopped: {why}." : "climbed the whole ladder (or the run was cut).";
            md.AppendLine().AppendLine(Invariant,
                $"{Name(sweep.Target)}: {sweep.Clients} clients, {sweep.Symbols} symbols, {sweep.ConnectsPerSecond:0} connects/s, {sweep.IdleKbPerConnection:0.0} KB per idle connection, load average {sweep.LoadAverage}; {end}");
            md.AppendLine();
            md.AppendLine("| step | offered/s | delivered/s | p50 ms | p90 ms | p99 ms | p99.9 ms | max ms | gaps | dups | missing | lost clients | errors | server CPU avg % | harness CPU avg % | server RSS MB | counts |");
            md.AppendLine("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | :---: |");
            var capacity = sweep.CapacityStep;
            foreach (var step in sweep.Steps.OrderBy(s => s.Rate))
            {
                var r = step.Result;
                var verdict = ReferenceEquals(step, capacity) ? "**capacity**" : SweepCapacity.WithinBound(step, sweep.P99BoundMs) ? "yes" : SweepCapacity.Saturated(step) ? "saturated" : "no";
                md.AppendLine(Invariant,
                    $"| {r.Scenario} | {r.OfferedPerSecond:0} | {r.DeliveredPerSecond:0} | {r.P50Ms:0.0} | {r.P90Ms:0.0} | {r.P99Ms:0.0} | {r.P999Ms:0.0} | {r.MaxMs:0.0} | {r.Gaps} | {r.Duplicates} | {r.Missing} | {r.ClientsLost} | {r.Errors} | {r.ServerCpuAveragePercent:0} | {r.HarnessCpuAveragePercent:0} | {r.ServerRssPeakMb:0} | {verdict} |");
            }

            md.AppendLine();
            if (sweep.WarmUp is { } w)
            {
                md.AppendLine(Invariant,
                    $"- warm-up (not counted): {w.DurationSeconds:0.#} s at {w.OfferedPerSecond:0}/s offered, p99 {w.P99Ms:0.0} ms, gaps {w.Gaps}, dups {w.Duplicates}, missing {w.Missing}, lost {w.ClientsLost}");
            }

            foreach (var note in sweep.Notes.Concat(sweep.Steps.SelectMany(s => s.Result.Notes.Concat(s.Result.ErrorSamples.Select(e => "error: " + e))
                         .Select(n => string.Create(Invariant, $"{s.Rate:0.##}/s: {n}")))).Distinct())
            {
                md.AppendLine(Invariant, $"- {note}");
            }
        }

        md.AppendLine().AppendLine(CapacityLine(sweeps, options.P99BoundMs));
        return md.ToString();
    }

    private static string Name(string target) => Targets.Name(target);

    /// <summary>One colour per server in <c>sweep.png</c>, the same in every run.</summary>
    private static uint Colour(string target) => target switch
    {
        Targets.SocketIo => 0xD62728,
        Targets.SignalR => 0xFF7F0E,
        _ => 0x1F77B4,
    };

    /// <summary>Delivered messages per second (x) against p99 (y, log scale) for every step, one line per server, with
    /// the bound drawn across: capacity is the rightmost point of a line under the bound.</summary>
    private static PngImage SweepChart(IReadOnlyList<SweepResult> sweeps, double boundMs)
    {
        const int width = 1000, height = 560, left = 90, top = 60, plotWidth = 820, plotHeight = 420;
        var image = new PngImage(width, height);
        image.Text(left, 14, string.Create(Invariant, $"P99 MS (LOG) VS DELIVERED PER SECOND, BOUND {boundMs:0.##} MS"), 0x000000, 3);
        var points = sweeps.SelectMany(s => s.Steps).Select(s => s.Result).ToList();
        var maxX = Math.Max(1, points.Select(r => r.DeliveredPerSecond).DefaultIfEmpty(1).Max()) * 1.05;
        var maxDecade = Math.Max(2, (int)Math.Ceiling(Math.Log10(Math.Max(boundMs, points.Select(r => r.P99Ms).DefaultIfEmpty(1).Max()) * 1.01)));
        int X(double delivered) => left + (int)(delivered / maxX * plotWidth);
        int Y(double p99Ms) => top + plotHeight - (int)(Math.Clamp(Math.Log10(Math.Max(p99Ms, 1)) / maxDecade, 0, 1) * plotHeight);

        image.Line(left, top, left, top + plotHeight, 0x000000);
        image.Line(left, top + plotHeight, left + plotWidth, top + plotHeight, 0x000000);
        for (var decade = 0; decade <= maxDecade; decade++)
        {
            var y = Y(Math.Pow(10, decade));
            image.Line(left - 4, y, left + plotWidth, y, 0xDDDDDD);
            image.Text(4, y - 5, Compact(Math.Pow(10, decade)), 0x000000);
        }

        for (var tick = 1; tick <= 4; tick++)
        {
            var x = left + (tick * plotWidth / 4);
            image.Line(x, top + plotHeight, x, top + plotHeight + 4, 0x000000);
            image.Text(x - 16, top + plotHeight + 10, Compact(maxX * tick / 4), 0x000000);
        }

        image.Line(left, Y(boundMs), left + plotWidth, Y(boundMs), 0x2CA02C, 2);
        for (var i = 0; i < sweeps.Count; i++)
        {
            var colour = Colour(sweeps[i].Target);
            var steps = sweeps[i].Steps.OrderBy(s => s.Rate).ToList();
            for (var s = 0; s < steps.Count; s++)
            {
                var (x, y) = (X(steps[s].Result.DeliveredPerSecond), Y(steps[s].Result.P99Ms));
                image.Fill(x - 3, y - 3, 7, 7, colour);
                if (s > 0)
                {
                    image.Line(X(steps[s - 1].Result.DeliveredPerSecond), Y(steps[s - 1].Result.P99Ms), x, y, colour, 2);
                }
            }

            image.Fill(left + 20, top + 10 + (i * 22), 10, 10, colour);
            image.Text(left + 36, top + 10 + (i * 22), string.Create(Invariant,
                $"{Name(sweeps[i].Target)}: {(sweeps[i].CapacityStep is null ? "NONE" : (sweeps[i].CapacityIsLowerBound ? ">= " : "") + Compact(sweeps[i].CapacityPerSecond) + "/S")}"), 0x000000);
        }

        return image;
    }
}
