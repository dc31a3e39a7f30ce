using SignalStream.Contracts;
using SignalStream.Engine.Signals.Internal;
using static SignalStream.Engine.Tests.Signals.SignalTestData;

namespace SignalStream.Engine.Tests.Signals;

public class RiskLevelsTests
{
    private static readonly SignalRules Defaults = Rules();

    [Fact]
    public void LongLevelsFollowTheSignalStackFormula()
    {
        // atr% = 2/100 = 0.02, c = 0.8: target = 100·(1 + 0.02·(1.5 + 1.2)) = 105.4; stop = 100·(1 − 0.02·(1.5 − 0.56)) = 98.12.
        Assert.Equal(RiskVerdict.Ok, RiskLevels.TryCompute(SignalDirection.Long, 100m, 2.0, 80, Defaults, out var levels));
        Assert.Equal(100m, levels.Entry);
        Assert.Equal(105.4m, levels.Target);
        Assert.Equal(98.12m, levels.Stop);
        Assert.Equal(2.8723, levels.RiskReward, 4); // 5.4 / 1.88
        Assert.Equal(0.02, levels.AtrPercent, 10);
    }

    [Fact]
    public void ShortLevelsAreTheMirror()
    {
        Assert.Equal(RiskVerdict.Ok, RiskLevels.TryCompute(SignalDirection.Short, 100m, 2.0, 80, Defaults, out var levels));
        Assert.Equal(94.6m, levels.Target);
        Assert.Equal(101.88m, levels.Stop);
        Assert.Equal(2.8723, levels.RiskReward, 4);
    }

    [Fact]
    public void HigherConfidenceWidensTheTargetAndTightensTheStop()
    {
        RiskLevels.TryCompute(SignalDirection.Long, 100m, 2.0, 65, Defaults, out var low);
        RiskLevels.TryCompute(SignalDirection.Long, 100m, 2.0, 95, Defaults, out var high);
        Assert.True(high.Target > low.Target);
        Assert.True(high.Stop > low.Stop);
    }

    [Fact]
    public void ARiskRewardBelowTheMinimumIsDropped()
    {
        // Target and stop both 1·ATR: R:R 1.0 < 1.2.
        var rules = Rules(o => { o.TargetAtrBase = 1.0; o.TargetAtrConfidence = 0; o.StopAtrBase = 1.0; o.StopAtrConfidence = 0; });
        Assert.Equal(RiskVerdict.RiskReward, RiskLevels.TryCompute(SignalDirection.Long, 100m, 2.0, 80, rules, out var levels));
        Assert.Equal(1.0, levels.RiskReward, 10);
    }

    [Fact]
    public void ARiskRewardExactlyAtTheMinimumPasses()
    {
        // Target 1.2·ATR = 2.4 above, stop 1·ATR = 2 below: R:R exactly 1.2.
        var rules = Rules(o => { o.TargetAtrBase = 1.2; o.TargetAtrConfidence = 0; o.StopAtrBase = 1.0; o.StopAtrConfidence = 0; });
        Assert.Equal(RiskVerdict.Ok, RiskLevels.TryCompute(SignalDirection.Long, 100m, 2.0, 80, rules, out var levels));
        Assert.Equal(102.4m, levels.Target);
        Assert.Equal(98m, levels.Stop);
        Assert.Equal(1.2, levels.RiskReward, 10);
    }

    [Fact]
    public void JustBelowTheMinimumIsDropped()
    {
        var rules = Rules(o => { o.TargetAtrBase = 1.19; o.TargetAtrConfidence = 0; o.StopAtrBase = 1.0; o.StopAtrConfidence = 0; });
        Assert.Equal(RiskVerdict.RiskReward, RiskLevels.TryCompute(SignalDirection.Long, 100m, 2.0, 80, rules, out _));
    }

    [Theory]
    [InlineData(0.0)]
    [InlineData(-1.0)]
    [InlineData(double.NaN)]
    [InlineData(double.PositiveInfinity)]
    [InlineData(100.0)]
    public void WithoutUsableVolatilityThereAreNoLevels(double atr)
    {
        Assert.Equal(RiskVerdict.NoVolatility, RiskLevels.TryCompute(SignalDirection.Long, 100m, atr, 80, Defaults, out _));
    }

    [Fact]
    public void LevelsThatRoundOntoTheEntryAreDropped()
    {
        // 4 significant digits of 1.000 keep 3 decimals; a move of 0.0003 rounds away.
        var rules = Rules(o => o.PriceSignificantDigits = 4);
        Assert.Equal(RiskVerdict.LevelsCollapsed, RiskLevels.TryCompute(SignalDirection.Long, 1.000m, 0.0001, 80, rules, out _));
    }

    [Theory]
    [InlineData("65000.12", 3)]
    [InlineData("3000.5", 4)]
    [InlineData("0.5123", 8)]
    [InlineData("0.00001234", 12)]
    public void LevelsKeepTheConfiguredSignificantDigits(string price, int decimals)
    {
        Assert.Equal(decimals, RiskLevels.DecimalsFor(decimal.Parse(price, System.Globalization.CultureInfo.InvariantCulture), 8));
    }
}
