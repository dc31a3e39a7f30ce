using System.Globalization;
using System.Text;
using SignalStream.Contracts;

namespace SignalStream.Tools.Replay.Report;

/// <summary>What a backtest report is made of: the replay's journal and what was replayed.</summary>
/// <param name="Performance">The replay's journal (<see cref="Engine.Journal.IPerformanceReport"/>): every figure comes from it.</param>
/// <param name="Models">The models the replay ran.</param>
/// <param name="Settings">The configuration overrides (<c>--set</c>) the replay ran with.</param>
/// <param name="FirstCandleClose">Close time of the first replayed candle (Unix ms), or 0 when there was none.</param>
/// <param name="LastCandleClose">Close time of the last one.</param>
internal sealed record BacktestInput(
    PerformanceReport Performance,
    IReadOnlyList<ModelInfo> Models,
    IReadOnlyDictionary<string, string?> Settings,
    long Candles,
    long Signals,
    long ShadowSignals,
    long Outcomes,
    long FirstCandleClose,
    long LastCandleClose);

/// <summary>
/// Writes <c>report.md</c> and its PNG charts (<see cref="BacktestCharts"/>) for a replay. Deterministic: the same
/// input gives the same <c>report.md</c>, byte for byte — nothing of "now" (no generation time, no namespace, no
/// elapsed time), rows in the journal's order, invariant culture, <c>\n</c> line ends.
/// </summary>
internal static class BacktestReport
{
    public const string FileName = "report.md";

    /// <summary>The prefix of a TradingView source's rows in the journal (<c>tradingview:{source}</c>).</summary>
    private const string TradingViewPrefix = "tradingview:";

    private static readonly string[] Columns =
        ["model", "symbol", "timeframe", "signals", "open", "wins", "losses", "expired", "win rate", "profit factor", "avg R", "max drawdown R", "Brier"];

    /// <summary>Writes the report and the charts into <paramref name="directory"/> (created when missing).</summary>
    /// <returns>The files written, report first.</returns>
    public static IReadOnlyList<string> Write(string directory, BacktestInput input)
    {
        Directory.CreateDirectory(directory);
        var charts = BacktestCharts.Write(directory, input.Performance);
        var path = Path.Combine(directory, FileName);
        File.WriteAllText(path, Render(input, charts), new UTF8Encoding(encoderShouldEmitUTF8Identifier: false));
        return [path, .. charts.Select(c => Path.Combine(directory, c.File))];
    }

    /// <summary>The Markdown text of the report.</summary>
    internal static string Render(BacktestInput input, IReadOnlyList<BacktestCharts.Chart> charts)
    {
        var md = new Markdown();
        var rows = input.Performance.Groups;
        md.Line("# Backtest report");
        md.Line();
        md.Line("The stored closed candles, replayed through the models below by `replay`. Every figure comes from the signal");
        md.Line("journal (`src/Engine/Journal`), the implementation `/api/performance` serves: R is the result in units of");
        md.Line("the signal's initial risk; expiries count as not won; the profit factor is finite (with no losing R it is the");
        md.Line("gross winning R); the maximum drawdown is the largest fall of cumulative R from a running peak.");
        md.Line();
        md.Table(["replayed", ""],
        [
            ["candles", Count(input.Candles)],
            ["first candle close", Time(input.FirstCandleClose)],
            ["last candle close", Time(input.LastCandleClose)],
            ["signals", Count(input.Signals)],
            ["shadow signals", Count(input.ShadowSignals)],
            ["outcomes", Count(input.Outcomes)],
            ["settings", input.Settings.Count == 0
                ? "the server's configuration"
                : string.Join(", ", input.Settings.OrderBy(s => s.Key, StringComparer.Ordinal).Select(s => $"`{s.Key}={s.Value}`"))],
        ]);

        md.Line("## Models");
        md.Line();
        md.Table(["model", "version", "family", "status", "weight", "sha256"],
            [.. input.Models.OrderBy(m => m.Name, StringComparer.Ordinal).ThenBy(m => m.Version, StringComparer.Ordinal)
                .Select(m => new[] { m.Name, m.Version, m.Family, m.Status, Number(m.Weight), "`" + m.Sha256[..Math.Min(16, m.Sha256.Length)] + "…`" })]);

        if (rows.Count == 0)
        {
            md.Line("No signal was issued: nothing to score. Lower the thresholds with `--set` (for example");
            md.Line("`--set Signals:MinVoteScore=0.5`) or replay more candles.");
            md.Line();
        }

        Section(md, "Summary", "Published signals as a whole (the `ensemble` row), over every symbol and timeframe.",
            rows.Where(r => r is { Model: Engine.Journal.SignalJournal.EnsembleModel, IsShadow: false, Symbol: "*", Timeframe: "*" }));
        Section(md, "By model", "Each model over every symbol and timeframe; shadow models are scored, never published.",
            rows.Where(r => r.Symbol == "*" && r.Timeframe == "*" && !IsSource(r)));
        Section(md, "By TradingView source", "Alerts of each TradingView source, scored like a model.",
            rows.Where(r => r.Symbol == "*" && r.Timeframe == "*" && IsSource(r)));
        Section(md, "By symbol", null, rows.Where(r => r.Symbol != "*" && r.Timeframe == "*"));
        Section(md, "By timeframe", null, rows.Where(r => r.Symbol == "*" && r.Timeframe != "*"));
        Section(md, "By symbol and timeframe", null, rows.Where(r => r.Symbol != "*" && r.Timeframe != "*"));

        if (charts.Count > 0)
        {
            md.Line("## Charts");
            md.Line();
            foreach (var chart in charts)
            {
                md.Line($"### {chart.Title}");
                md.Line();
                md.Line(chart.Caption);
                md.Line();
                md.Line($"![{chart.Title}]({chart.File})");
                md.Line();
            }
        }

        var ensemble = rows.FirstOrDefault(r => r is { Model: Engine.Journal.SignalJournal.EnsembleModel, IsShadow: false, Symbol: "*", Timeframe: "*" });
        if (ensemble is { Calibration.Count: > 0 })
        {
            md.Line("## By confidence bucket");
            md.Line();
            md.Line("Published signals by confidence (the ensemble's probability of the signal's direction).");
            md.Line();
            md.Table(["confidence", "signals", "win rate", "avg R"],
                [.. ensemble.Calibration.Select(b => new[] { Bucket(b), Count(b.Count), Percent(b.ObservedWinRate), Number(b.AverageR) })]);
        }

        var calibrated = rows.Where(r => r.Symbol == "*" && r.Timeframe == "*" && r.Calibration.Count > 0).ToList();
        if (calibrated.Count > 0)
        {
            md.Line("## Calibration");
            md.Line();
            md.Line("Predicted probability of the signal's direction against how often it won, per model. A calibrated model's");
            md.Line("observed win rate matches its mean prediction in every bucket.");
            md.Line();
            md.Table(["model", "bucket", "signals", "mean predicted", "observed win rate", "avg R"],
                [.. calibrated.SelectMany(r => r.Calibration.Select(b => new[] { Name(r), Bucket(b), Count(b.Count), Percent(b.MeanPredicted), Percent(b.ObservedWinRate), Number(b.AverageR) }))]);
        }

        return md.ToString();
    }

    private static void Section(Markdown md, string title, string? intro, IEnumerable<PerformanceGroup> rows)
    {
        var list = rows.ToList();
        if (list.Count == 0)
        {
            return;
        }

        md.Line("## " + title);
        md.Line();
        if (intro is not null)
        {
            md.Line(intro);
            md.Line();
        }

        md.Table(Columns, [.. list.Select(Row)]);
    }

    /// <summary>One row of a statistics table; the numbers as <c>/api/performance</c> has them (4 decimals).</summary>
    internal static string[] Row(PerformanceGroup g) =>
    [
        Name(g), g.Symbol, g.Timeframe, Count(g.Signals), Count(g.Open), Count(g.Wins), Count(g.Losses), Count(g.Expired),
        Percent(g.WinRate), Number(g.ProfitFactor), Number(g.AverageR), Number(g.MaxDrawdown), g.BrierScore is { } b ? Number(b) : "–",
    ];

    private static bool IsSource(PerformanceGroup g) => g.Model.StartsWith(TradingViewPrefix, StringComparison.Ordinal);

    private static string Name(PerformanceGroup g) => g.IsShadow ? g.Model + " (shadow)" : g.Model;

    private static string Count(long value) => value.ToString(CultureInfo.InvariantCulture);

    private static string Number(double value) => value.ToString("0.0000", CultureInfo.InvariantCulture);

    private static string Percent(double fraction) => (fraction * 100).ToString("0.00", CultureInfo.InvariantCulture) + "%";

    private static string Bucket(CalibrationBucket b) =>
        string.Create(CultureInfo.InvariantCulture, $"{b.Lower * 100:0}–{b.Upper * 100:0}%");

    private static string Time(long unixMs) => unixMs <= 0
        ? "–"
        : DateTimeOffset.FromUnixTimeMilliseconds(unixMs).ToString("yyyy-MM-dd HH:mm:ss 'UTC'", CultureInfo.InvariantCulture);

    /// <summary>A Markdown writer with <c>\n</c> line ends whatever the platform, and pipes escaped in cells.</summary>
    private sealed class Markdown
    {
        private readonly StringBuilder _text = new();

        public void Line(string text = "") => _text.Append(text).Append('\n');

        public void Table(IReadOnlyList<string> header, IReadOnlyList<string[]> rows)
        {
            Line("| " + string.Join(" | ", header.Select(Cell)) + " |");
            Line("|" + string.Concat(header.Select(_ => " --- |")));
            foreach (var row in rows)
            {
                Line("| " + string.Join(" | ", row.Select(Cell)) + " |");
            }

            Line();
        }

        public override string ToString() => _text.ToString();

        private static string Cell(string text) => text.Replace("|", "\\|", StringComparison.Ordinal).ReplaceLineEndings(" ");
    }
}
