using ScottPlot;
using SignalStream.Contracts;
using SignalStream.Engine.Journal;

namespace SignalStream.Tools.Replay.Report;

/// <summary>
/// The report's PNG charts, drawn with ScottPlot from the journal's rows: the equity curve in R and its drawdown per
/// model (the roll-up rows' <see cref="PerformanceGroup.Equity"/>), win rate and average R by confidence bucket, and
/// the calibration plot.
/// </summary>
internal static class BacktestCharts
{
    private const int Width = 1000;
    private const int Height = 480;

    /// <summary>A chart written next to the report.</summary>
    internal sealed record Chart(string File, string Title, string Caption);

    public static IReadOnlyList<Chart> Write(string directory, PerformanceReport performance)
    {
        // Roll-ups over every symbol and timeframe; the ensemble drawn last, on top of models that share its signals.
        var models = performance.Groups.Where(g => g.Symbol == SignalJournal.All && g.Timeframe == SignalJournal.All && g.Equity is { Count: > 0 })
            .OrderBy(g => g is { Model: SignalJournal.EnsembleModel, IsShadow: false })
            .ToList();
        var ensemble = models.FirstOrDefault(g => g is { Model: SignalJournal.EnsembleModel, IsShadow: false });
        var charts = new List<Chart>
        {
            Equity(directory, models),
            Drawdown(directory, models),
            Confidence(directory, ensemble),
            Calibration(directory, models),
        };
        return charts;
    }

    private static Chart Equity(string directory, List<PerformanceGroup> models)
    {
        var plot = NewPlot("Equity curve (cumulative R)", "market time of the resolving candle (UTC)", "cumulative R");
        foreach (var (model, i) in models.Select((m, i) => (m, i)))
        {
            var line = plot.Add.Scatter(Times(model), [.. model.Equity!.Select(p => p.CumulativeR)]);
            Style(line, model, i);
        }

        Finish(plot, models.Count > 0, dates: true);
        return Save(plot, directory, "equity.png", "Equity curve in R",
            "Cumulative R of each model's resolved signals over time (shadow models dashed); `ensemble` is what was published.");
    }

    private static Chart Drawdown(string directory, List<PerformanceGroup> models)
    {
        var plot = NewPlot("Drawdown (R below the running peak)", "market time of the resolving candle (UTC)", "drawdown R");
        foreach (var (model, i) in models.Select((m, i) => (m, i)))
        {
            var line = plot.Add.Scatter(Times(model), [.. model.Equity!.Select(p => -p.Drawdown)]);
            Style(line, model, i);
        }

        Finish(plot, models.Count > 0, dates: true);
        return Save(plot, directory, "drawdown.png", "Drawdown",
            "How far each model's cumulative R stood below its running peak; the lowest point is the maximum drawdown.");
    }

    private static Chart Confidence(string directory, PerformanceGroup? ensemble)
    {
        var plot = NewPlot("Published signals by confidence", "confidence bucket (%)", "win rate (%)");
        var buckets = ensemble?.Calibration ?? [];
        if (buckets.Count > 0)
        {
            var centers = buckets.Select(b => (b.Lower + b.Upper) * 50).ToArray();
            var bars = plot.Add.Bars(centers, [.. buckets.Select(b => b.ObservedWinRate * 100)]);
            bars.LegendText = "win rate (%)";
            foreach (var bar in bars.Bars)
            {
                bar.Size = 8;
            }

            var averageR = plot.Add.Scatter(centers, [.. buckets.Select(b => b.AverageR)]);
            averageR.Axes.YAxis = plot.Axes.Right;
            averageR.LegendText = "average R (right axis)";
            averageR.LineWidth = 2;
            averageR.MarkerSize = 8;
            plot.Axes.Right.Label.Text = "average R";
            plot.Axes.SetLimitsX(0, 100);
        }

        Finish(plot, buckets.Count > 0, dates: false);
        return Save(plot, directory, "confidence.png", "Win rate and average R by confidence",
            "Published signals in 10-point confidence buckets: bars for the win rate, the line for the average R.");
    }

    private static Chart Calibration(string directory, List<PerformanceGroup> models)
    {
        var plot = NewPlot("Calibration", "mean predicted probability of the direction", "observed win rate");
        var diagonal = plot.Add.Line(0, 0, 1, 1);
        diagonal.LinePattern = LinePattern.Dashed;
        diagonal.LineColor = Colors.Gray;
        diagonal.LegendText = "perfectly calibrated";
        foreach (var (model, i) in models.Select((m, i) => (m, i)))
        {
            var points = model.Calibration;
            var line = plot.Add.Scatter(points.Select(b => b.MeanPredicted).ToArray(), [.. points.Select(b => b.ObservedWinRate)]);
            Style(line, model, i);
            line.MarkerSize = 7;
        }

        plot.Axes.SetLimits(0, 1, 0, 1);
        Finish(plot, models.Count > 0, dates: false);
        return Save(plot, directory, "calibration.png", "Calibration",
            "Each model's predicted probability of the signal's direction (bucket mean) against its observed win rate.");
    }

    private static Plot NewPlot(string title, string x, string y)
    {
        var plot = new Plot();
        plot.Title(title);
        plot.XLabel(x);
        plot.YLabel(y);
        return plot;
    }

    private static double[] Times(PerformanceGroup model) =>
        [.. model.Equity!.Select(p => DateTimeOffset.FromUnixTimeMilliseconds(p.ResolvedCandleOpenTime).UtcDateTime.ToOADate())];

    private static void Style(ScottPlot.Plottables.Scatter line, PerformanceGroup model, int index)
    {
        line.LegendText = model.IsShadow ? model.Model + " (shadow)" : model.Model;
        line.Color = Palette.GetColor(index);
        line.LineWidth = model.Model == SignalJournal.EnsembleModel ? 3 : 1.5f;
        line.MarkerSize = 0;
        if (model.IsShadow)
        {
            line.LinePattern = LinePattern.Dashed;
        }
    }

    private static readonly ScottPlot.Palettes.Category10 Palette = new();

    private static void Finish(Plot plot, bool hasData, bool dates)
    {
        if (!hasData)
        {
            plot.Add.Annotation("no resolved signals");
            return;
        }

        if (dates)
        {
            plot.Axes.DateTimeTicksBottom();
        }

        plot.ShowLegend(Alignment.UpperLeft);
    }

    private static Chart Save(Plot plot, string directory, string file, string title, string caption)
    {
        plot.SavePng(Path.Combine(directory, file), Width, Height);
        return new Chart(file, title, caption);
    }
}
