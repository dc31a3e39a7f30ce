using System.Globalization;
using System.Runtime.CompilerServices;
using SignalStream.Engine.Features;
using SignalStream.Ingest.Replay;

namespace SignalStream.Engine.Tests.Features;

/// <summary>
/// The engine's O(1) features against the independent reference in <c>models/train/reference_features.py</c>,
/// which computes every rolling statistic directly over its window with numpy. Fixtures: candle files (two
/// simulated streams and a hand-made edge case: flat stretches, zero volume, no losses, crashes) and the reference's
/// output for every warm row. Regenerate with <c>models/train/make_feature_fixture.sh</c>.
/// </summary>
public sealed class FeatureParityTests
{
    // Double rows: both sides compute in double; the only differences are summation order (running shifted sums
    // vs numpy's pairwise sums) and one-ulp decimal-to-double conversions: at most 6.4e-13 (relative, or absolute
    // below 1) measured on these fixtures. 1e-9 leaves
    // room for conditioning (bb_position divides by a small sigma) while catching any real defect (an off-by-one
    // window moves values by 1e-3 or more).
    private const double RowTolerance = 1e-9;

    // Windows served to models are float32: rounding alone is 6e-8 relative, so 1e-6 × max(1, |x|).
    private const double WindowTolerance = 1e-6;

    public static TheoryData<string> Fixtures() =>
    [
        "BTCUSDT-1m-export",
        "XRPUSDT-1h-export",
        "EDGEUSDT-1m-handmade",
    ];

    [Theory]
    [MemberData(nameof(Fixtures))]
    public void EngineFeaturesMatchTheIndependentReference(string fixture)
    {
        var directory = FixtureDirectory();
        var read = CandleFile.Read(Path.Combine(directory, fixture + ".csv"));
        Assert.Empty(read.Errors);
        var expected = ReadExpected(Path.Combine(directory, fixture + ".features"));
        Assert.True(expected.Count >= 150, $"{fixture}: only {expected.Count} reference rows");

        const int window = 16;
        var state = new StreamFeatureState(window);
        var all = Enumerable.Range(0, FeatureCatalog.Count).ToArray();
        var buffer = new float[window * FeatureCatalog.Count];
        var compared = 0;
        var worst = 0.0;
        var history = new List<double[]>();
        foreach (var candle in read.Candles)
        {
            state.Update(candle);
            if (!expected.TryGetValue(candle.OpenTime, out var reference))
            {
                Assert.False(state.IsWarm, $"{fixture}: the engine is warm at {candle.OpenTime} but the reference has no row");
                continue;
            }

            Assert.True(state.IsWarm);
            for (var i = 0; i < FeatureCatalog.Count; i++)
            {
                var error = Math.Abs(state.LatestRow[i] - reference[i]) / Math.Max(1, Math.Abs(reference[i]));
                worst = Math.Max(worst, error);
                Assert.True(error <= RowTolerance,
                    $"{fixture} at {candle.OpenTime}: {FeatureCatalog.Names[i]} engine {state.LatestRow[i]:R} reference {reference[i]:R}");
            }

            history.Add(reference);
            if (state.HasWindow(window))
            {
                state.CopyWindow(all, window, buffer);
                for (var r = 0; r < window; r++)
                {
                    var row = history[history.Count - window + r];
                    for (var i = 0; i < FeatureCatalog.Count; i++)
                    {
                        Assert.True(Math.Abs(buffer[(r * FeatureCatalog.Count) + i] - row[i]) <= WindowTolerance * Math.Max(1, Math.Abs(row[i])),
                            $"{fixture} window row {r}: {FeatureCatalog.Names[i]}");
                    }
                }
            }

            compared++;
        }

        Assert.Equal(expected.Count, compared);
        Assert.True(worst <= RowTolerance, $"worst relative error {worst:E2}");
    }

    // The fixtures are read from the source tree (found through this file's compile-time path), so the shared test
    // project file needs no copy rule.
    private static string FixtureDirectory([CallerFilePath] string thisFile = "") =>
        Path.Combine(Path.GetDirectoryName(thisFile)!, "Fixtures");

    private static Dictionary<long, double[]> ReadExpected(string path)
    {
        var lines = File.ReadAllLines(path);
        Assert.Equal("open_time," + string.Join(',', FeatureCatalog.Names), lines[0]);
        var rows = new Dictionary<long, double[]>();
        foreach (var line in lines.Skip(1))
        {
            var fields = line.Split(',');
            rows.Add(
                long.Parse(fields[0], CultureInfo.InvariantCulture),
                [.. fields.Skip(1).Select(f => double.Parse(f, CultureInfo.InvariantCulture))]);
        }

        return rows;
    }
}
