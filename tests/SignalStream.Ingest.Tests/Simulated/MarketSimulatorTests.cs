using SignalStream.Contracts;
using SignalStream.Ingest.Simulated;

namespace SignalStream.Ingest.Tests.Simulated;

public sealed class MarketSimulatorTests
{
    private static readonly Timeframe[] s_timeframes = [Timeframe.OneMinute, Timeframe.FiveMinutes, Timeframe.FifteenMinutes, Timeframe.OneHour];

    private static List<Candle> Generate(string[] symbols, int candles, long seed = 42, Timeframe[]? timeframes = null) =>
        [.. MarketSimulator.GenerateClosed(symbols, timeframes ?? s_timeframes, candles, seed)];

    [Fact]
    public void TheSameSeedGivesTheSameCandles()
    {
        var first = Generate(["BTCUSDT", "ETHUSDT"], 50);
        var second = Generate(["BTCUSDT", "ETHUSDT"], 50);
        Assert.Equal(first, second);
    }

    [Fact]
    public void ADifferentSeedGivesADifferentPath()
    {
        var first = Generate(["BTCUSDT"], 50, seed: 1);
        var second = Generate(["BTCUSDT"], 50, seed: 2);
        Assert.NotEqual(first.Select(c => c.Close), second.Select(c => c.Close));
    }

    [Fact]
    public void AddingASymbolDoesNotChangeAnotherSymbolsCandles()
    {
        var alone = Generate(["ETHUSDT"], 40);
        var withOthers = Generate(["BTCUSDT", "ETHUSDT", "NEWCOINUSDT"], 40).Where(c => c.Symbol == "ETHUSDT").ToList();
        Assert.Equal(alone, withOthers);
    }

    [Fact]
    public void EveryStreamGetsExactlyTheRequestedContiguousAlignedCandles()
    {
        var candles = Generate(["BTCUSDT", "XRPUSDT"], 30);
        foreach (var stream in candles.GroupBy(c => c.Stream))
        {
            var list = stream.ToList();
            Assert.Equal(30, list.Count);
            for (var i = 0; i < list.Count; i++)
            {
                var tf = stream.Key.Timeframe;
                Assert.True(tf.IsAlignedOpenTime(list[i].OpenTime));
                Assert.Equal(tf.CloseTimeOf(list[i].OpenTime), list[i].CloseTime);
                Assert.True(list[i].CloseTime < MarketSimulator.DefaultEndTimeMs);
                if (i > 0)
                {
                    Assert.Equal(tf.NextOpenTime(list[i - 1].OpenTime), list[i].OpenTime);
                }
            }
        }
    }

    [Fact]
    public void CandlesAreEmittedInCloseTimeOrder()
    {
        var candles = Generate(["BTCUSDT", "ETHUSDT"], 20);
        for (var i = 1; i < candles.Count; i++)
        {
            Assert.True(candles[i - 1].CloseTime <= candles[i].CloseTime);
        }
    }

    [Fact]
    public void LongerCandlesAreExactAggregatesOfTheirShorterCandles()
    {
        var candles = Generate(["BTCUSDT", "SOLUSDT", "ZZZUSDT"], 48);
        var minutes = candles.Where(c => c.Timeframe == Timeframe.OneMinute).ToDictionary(c => (c.Symbol, c.OpenTime));
        var checkedCount = 0;
        foreach (var big in candles.Where(c => c.Timeframe != Timeframe.OneMinute))
        {
            var parts = new List<Candle>();
            for (var t = big.OpenTime; t < big.CloseTime; t += 60_000)
            {
                if (minutes.TryGetValue((big.Symbol, t), out var part))
                {
                    parts.Add(part);
                }
            }

            if (parts.Count == 0 || parts[0].OpenTime != big.OpenTime || parts[^1].CloseTime != big.CloseTime)
            {
                continue; // older than the 1m history
            }

            checkedCount++;
            Assert.Equal(parts[0].Open, big.Open);
            Assert.Equal(parts[^1].Close, big.Close);
            Assert.Equal(parts.Max(p => p.High), big.High);
            Assert.Equal(parts.Min(p => p.Low), big.Low);
            Assert.Equal(parts.Sum(p => p.Volume), big.Volume);
            Assert.Equal(parts.Sum(p => p.QuoteVolume), big.QuoteVolume);
            Assert.Equal(parts.Sum(p => p.TakerBuyBaseVolume), big.TakerBuyBaseVolume);
            Assert.Equal(parts.Sum(p => p.TakerBuyQuoteVolume), big.TakerBuyQuoteVolume);
            Assert.Equal(parts.Sum(p => p.TradeCount), big.TradeCount);
        }

        Assert.True(checkedCount >= 3 * 9, $"only {checkedCount} aggregates checked");
    }

    [Fact]
    public void EveryCandleIsInternallyConsistent()
    {
        foreach (var c in Generate(["BTCUSDT", "XRPUSDT", "DOGEUSDT", "QQQUSDT"], 200))
        {
            Assert.True(c.Low > 0, $"{c}");
            Assert.True(c.Low <= Math.Min(c.Open, c.Close) && c.High >= Math.Max(c.Open, c.Close), $"{c}");
            Assert.True(c.Volume >= 0 && c.TakerBuyBaseVolume <= c.Volume && c.TakerBuyQuoteVolume <= c.QuoteVolume, $"{c}");
        }
    }

    [Fact]
    public void PriceLevelsArePlausiblePerSymbol()
    {
        var last = Generate(["BTCUSDT", "XRPUSDT"], 10, timeframes: [Timeframe.OneHour])
            .GroupBy(c => c.Symbol).ToDictionary(g => g.Key, g => g.Last().Close);
        Assert.InRange(last["BTCUSDT"], 10_000m, 500_000m);
        Assert.InRange(last["XRPUSDT"], 0.05m, 5m);
    }

    [Fact]
    public void ReturnsHaveFatTailsVolatilityClusteringAndVolumeFollowsTheMove()
    {
        // Deterministic (seeded), so these are facts about this path, not flaky statistics.
        var candles = Generate(["BTCUSDT"], 20_000, timeframes: [Timeframe.OneMinute]);
        var returns = new double[candles.Count - 1];
        var volumes = new double[candles.Count - 1];
        for (var i = 1; i < candles.Count; i++)
        {
            returns[i - 1] = Math.Log((double)candles[i].Close / (double)candles[i - 1].Close);
            volumes[i - 1] = (double)candles[i].Volume;
        }

        var mean = returns.Average();
        var variance = returns.Average(r => (r - mean) * (r - mean));
        var kurtosis = returns.Average(r => Math.Pow(r - mean, 4)) / (variance * variance);
        Assert.True(kurtosis > 4, $"kurtosis {kurtosis:F2}: tails are not fat");

        var absolute = returns.Select(Math.Abs).ToArray();
        var clustering = Correlation(absolute.AsSpan(0, absolute.Length - 1), absolute.AsSpan(1));
        Assert.True(clustering > 0.1, $"lag-1 autocorrelation of |r| is {clustering:F3}: no volatility clustering");

        var volumeVsMove = Correlation(absolute, volumes);
        Assert.True(volumeVsMove > 0.2, $"corr(|r|, volume) is {volumeVsMove:F3}");
    }

    [Fact]
    public void CoarseOnlyTimeframesUseACoarseStep()
    {
        var simulator = new MarketSimulator(["BTCUSDT"], [Timeframe.FourHours, Timeframe.OneDay], 42);
        Assert.Equal(3_600_000, simulator.StepMs);
        var monthly = MarketSimulator.GenerateClosed(["BTCUSDT"], [Timeframe.OneMonth, Timeframe.OneWeek], 3).ToList();
        Assert.Equal(6, monthly.Count);
    }

    [Fact]
    public void InProgressCandlesGrowTowardsTheirCloseWithinItsRange()
    {
        var simulator = new MarketSimulator(["BTCUSDT"], [Timeframe.OneMinute, Timeframe.FiveMinutes], 42);
        var end = simulator.Begin(MarketSimulator.DefaultEndTimeMs, 5);
        while (simulator.MarketTime < end)
        {
            simulator.Step(new List<Candle>());
        }

        var partials = new[] { 0.25, 0.5, 0.75 }.Select(f => simulator.GetProgress(0, 1, f)).ToList();
        var closed = new List<Candle>();
        while (closed.Count == 0 || closed.All(c => c.Timeframe != Timeframe.FiveMinutes))
        {
            simulator.Step(closed);
        }

        var final = closed.Single(c => c.Timeframe == Timeframe.FiveMinutes);
        Assert.All(partials, p =>
        {
            Assert.Equal(final.OpenTime, p.OpenTime);
            Assert.Equal(final.Open, p.Open);
            Assert.True(p.High <= final.High && p.Low >= final.Low && p.Volume <= final.Volume, $"{p} vs {final}");
        });
        Assert.True(partials[0].Volume <= partials[1].Volume && partials[1].Volume <= partials[2].Volume);
    }

    private static double Correlation(ReadOnlySpan<double> x, ReadOnlySpan<double> y)
    {
        double mx = 0, my = 0;
        for (var i = 0; i < x.Length; i++)
        {
            mx += x[i];
            my += y[i];
        }

        mx /= x.Length;
        my /= y.Length;
        double sxy = 0, sxx = 0, syy = 0;
        for (var i = 0; i < x.Length; i++)
        {
            sxy += (x[i] - mx) * (y[i] - my);
            sxx += (x[i] - mx) * (x[i] - mx);
            syy += (y[i] - my) * (y[i] - my);
        }

        return sxy / Math.Sqrt(sxx * syy);
    }
}
