using SignalStream.Contracts;
using SignalStream.Engine.Features;
using SignalStream.Ingest.Simulated;

namespace SignalStream.Engine.Tests.Features;

public sealed class StreamFeatureStateTests
{
    private static List<Candle> Candles(int count, string symbol = "BTCUSDT") =>
        [.. MarketSimulator.GenerateClosed([symbol], [Timeframe.OneMinute], count)];

    [Fact]
    public void TheCatalogIsOrderedUniqueAndIndexed()
    {
        Assert.Equal(FeatureCatalog.Names.Count, FeatureCatalog.Count);
        Assert.Equal(FeatureCatalog.Count, FeatureCatalog.Names.Distinct().Count());
        for (var i = 0; i < FeatureCatalog.Count; i++)
        {
            Assert.True(FeatureCatalog.TryGetIndex(FeatureCatalog.Names[i], out var index));
            Assert.Equal(i, index);
        }

        Assert.False(FeatureCatalog.TryGetIndex("RET_1", out _));
        Assert.False(FeatureCatalog.TryResolve(["ret_1", "nope"], out _, out var unknown));
        Assert.Equal("nope", unknown);
    }

    [Fact]
    public void AWindowIsOnlyAvailableOnceIndicatorsAreWarmAndEnoughWarmRowsExist()
    {
        var state = new StreamFeatureState(32);
        var candles = Candles(FeatureCatalog.WarmupCandles + 40);
        for (var i = 0; i < candles.Count; i++)
        {
            Assert.Equal(i >= FeatureCatalog.WarmupCandles + 31, state.HasWindow(32));
            Assert.Equal(i >= FeatureCatalog.WarmupCandles, state.HasWindow(1));
            Assert.Equal(i >= FeatureCatalog.WarmupCandles, state.Snapshot != default);
            state.Update(candles[i]);
        }

        Assert.Equal(candles.Count, state.CandlesSeen);
        Assert.False(state.HasWindow(33));
        Assert.Throws<InvalidOperationException>(() => state.CopyWindow([0], 33, new float[33]));
    }

    [Fact]
    public void CopyWindowReturnsTheLatestRowsOldestFirstWithTheChosenFeatures()
    {
        const int capacity = 8;
        var state = new StreamFeatureState(capacity);
        var rows = new List<double[]>();
        foreach (var candle in Candles(FeatureCatalog.WarmupCandles + 21))
        {
            state.Update(candle);
            rows.Add(state.LatestRow.ToArray());
        }

        int[] indices = [FeatureCatalog.Count - 1, 0, 8];
        var window = new float[5 * indices.Length];
        state.CopyWindow(indices, 5, window);
        for (var r = 0; r < 5; r++)
        {
            var expected = rows[rows.Count - 5 + r];
            for (var j = 0; j < indices.Length; j++)
            {
                Assert.Equal((float)expected[indices[j]], window[(r * indices.Length) + j]);
            }
        }
    }

    [Fact]
    public void AWindowOfTheWholeCatalogIsTheLatestRowsAtEveryRingPosition()
    {
        // The block-copy path: every window length, after enough candles that the ring has wrapped at every offset.
        const int capacity = 7;
        var state = new StreamFeatureState(capacity);
        var all = Enumerable.Range(0, FeatureCatalog.Count).ToArray();
        var rows = new List<float[]>();
        foreach (var candle in Candles(FeatureCatalog.WarmupCandles + (3 * capacity)))
        {
            state.Update(candle);
            rows.Add([.. state.LatestRow.ToArray().Select(v => (float)v)]);
            for (var window = 1; window <= capacity; window++)
            {
                if (!state.HasWindow(window))
                {
                    continue;
                }

                var copied = new float[window * FeatureCatalog.Count];
                state.CopyWindow(all, window, copied);
                var expected = rows.Skip(rows.Count - window).SelectMany(r => r).ToArray();
                Assert.Equal(expected, copied);
            }
        }
    }

    [Fact]
    public void EachHeldRowKeepsItsCandlesBarAcrossHolesAndTheRing()
    {
        var state = new StreamFeatureState(8);
        var candles = Candles(FeatureCatalog.WarmupCandles + 30);
        candles.RemoveRange(candles.Count - 11, 5); // a hole of five bars before the newest six
        var bars = candles.Select(c => c.Timeframe.BarIndex(c.OpenTime)).ToArray();
        for (var i = 0; i < candles.Count; i++)
        {
            state.Update(candles[i]);
            var warm = i + 2 - FeatureCatalog.WarmupCandles; // warm rows held after candle i
            Assert.Equal(warm > 0 ? bars[FeatureCatalog.WarmupCandles - 1] : StreamFeatureState.NoBar, state.FirstWarmBar);
            for (var back = 0; back < 10; back++)
            {
                var held = back < Math.Min(8, warm);
                Assert.Equal(held ? bars[i - back] : StreamFeatureState.NoBar, state.BarAgo(back));
            }
        }

        // The newest eight rows straddle the hole: six after it, two before.
        var newest = bars[^1];
        Assert.Equal(3, state.RowsSince(newest - 2));
        Assert.Equal(6, state.RowsSince(newest - 10));
        Assert.Equal(8, state.RowsSince(long.MinValue + 1));
        var copied = new long[8];
        state.CopyBars(8, copied);
        Assert.Equal(bars[^8..], copied);
    }

    [Fact]
    public void UpdateAndCopyWindowAllocateNothingInSteadyState()
    {
        var state = new StreamFeatureState(64);
        var candles = Candles(400);
        var indices = Enumerable.Range(0, FeatureCatalog.Count).ToArray();
        var window = new float[64 * FeatureCatalog.Count];
        for (var i = 0; i < 200; i++)
        {
            state.Update(candles[i]);
        }

        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 200; i < candles.Count; i++)
        {
            state.Update(candles[i]);
            state.CopyWindow(indices, 64, window);
            _ = state.Snapshot;
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }

    [Fact]
    public void FeaturesAreScaleFreeSoOneModelServesEverySymbol()
    {
        // The same path at 1/100,000 of the price and 1,000x the volume must give the same features.
        var original = new StreamFeatureState(1);
        var scaled = new StreamFeatureState(1);
        foreach (var c in Candles(300))
        {
            original.Update(c);
            scaled.Update(c with
            {
                Open = c.Open / 100_000m,
                High = c.High / 100_000m,
                Low = c.Low / 100_000m,
                Close = c.Close / 100_000m,
                Volume = c.Volume * 1000m,
                TakerBuyBaseVolume = c.TakerBuyBaseVolume * 1000m,
            });
            for (var i = 0; i < FeatureCatalog.Count; i++)
            {
                Assert.True(
                    Math.Abs(original.LatestRow[i] - scaled.LatestRow[i]) <= 1e-9 * Math.Max(1, Math.Abs(original.LatestRow[i])),
                    $"{FeatureCatalog.Names[i]}: {original.LatestRow[i]} vs {scaled.LatestRow[i]}");
            }
        }
    }

    [Fact]
    public void RunningSumsDoNotDriftOverALongStream()
    {
        // A state that saw 20,000 candles agrees with one that only saw the last 600 (beyond the seeds' reach).
        var candles = Candles(20_000);
        var longLived = new StreamFeatureState(1);
        var fresh = new StreamFeatureState(1);
        for (var i = 0; i < candles.Count; i++)
        {
            longLived.Update(candles[i]);
            if (i >= candles.Count - 600)
            {
                fresh.Update(candles[i]);
            }
        }

        string[] windowed = ["ret_1", "ret_24", "vol_12", "vol_48", "vol_ratio", "bb_position", "bb_width", "volume_z_48", "body", "range", "taker_buy_ratio"];
        foreach (var name in windowed)
        {
            FeatureCatalog.TryGetIndex(name, out var i);
            Assert.True(Math.Abs(longLived.LatestRow[i] - fresh.LatestRow[i]) <= 1e-9 * Math.Max(1, Math.Abs(fresh.LatestRow[i])), name);
        }

        foreach (var name in (string[])["rsi_14", "macd_hist", "atr_14", "ema_dist_26"])
        {
            FeatureCatalog.TryGetIndex(name, out var i);
            Assert.True(Math.Abs(longLived.LatestRow[i] - fresh.LatestRow[i]) <= 1e-6 * Math.Max(1, Math.Abs(fresh.LatestRow[i])), name);
        }
    }

    [Fact]
    public void ASnapshotCarriesTheIndicatorsTheSignalStageNeeds()
    {
        var state = new StreamFeatureState(1);
        Candle last = default;
        foreach (var c in Candles(300))
        {
            state.Update(c);
            last = c;
        }

        var snapshot = state.Snapshot;
        Assert.Equal((double)last.Close, snapshot.Close);
        Assert.True(snapshot.Atr14 > 0);
        Assert.InRange(snapshot.Rsi14, 0, 100);
        FeatureCatalog.TryGetIndex("atr_14", out var atr);
        Assert.Equal(state.LatestRow[atr] * snapshot.Close, snapshot.Atr14, 1e-9);
    }
}
