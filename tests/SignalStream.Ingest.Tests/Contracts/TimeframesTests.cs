using SignalStream.Contracts;

namespace SignalStream.Ingest.Tests.Contracts;

public sealed class TimeframesTests
{
    [Theory]
    [InlineData("1s", Timeframe.OneSecond)]
    [InlineData("1m", Timeframe.OneMinute)]
    [InlineData("15m", Timeframe.FifteenMinutes)]
    [InlineData("1h", Timeframe.OneHour)]
    [InlineData("1d", Timeframe.OneDay)]
    [InlineData("1w", Timeframe.OneWeek)]
    [InlineData("1M", Timeframe.OneMonth)]
    public void EveryBinanceNameParsesAndRoundTrips(string name, Timeframe expected)
    {
        Assert.Equal(expected, Timeframes.Parse(name));
        Assert.True(Timeframes.TryParse(System.Text.Encoding.UTF8.GetBytes(name), out var fromUtf8));
        Assert.Equal(expected, fromUtf8);
        Assert.Equal(name, expected.ToName());
    }

    [Theory]
    [InlineData("1H")]
    [InlineData(" 1m")]
    [InlineData("60m")]
    [InlineData("")]
    [InlineData("1mo")]
    public void NamesAreParsedStrictly(string name)
    {
        Assert.False(Timeframes.TryParse(name.AsSpan(), out _));
        var error = Assert.Throws<FormatException>(() => Timeframes.Parse(name));
        Assert.Contains("1m", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void MinuteAndMonthAreDistinguishedByCase()
    {
        Assert.Equal(Timeframe.OneMinute, Timeframes.Parse("1m"));
        Assert.Equal(Timeframe.OneMonth, Timeframes.Parse("1M"));
    }

    [Fact]
    public void OpenTimesAlignLikeBinance()
    {
        var t = DateTimeOffset.Parse("2024-03-14T10:37:12Z", System.Globalization.CultureInfo.InvariantCulture).ToUnixTimeMilliseconds();
        Assert.Equal(DateTimeOffset.Parse("2024-03-14T10:30:00Z", System.Globalization.CultureInfo.InvariantCulture).ToUnixTimeMilliseconds(), Timeframe.FifteenMinutes.OpenTimeOf(t));
        // Weekly candles open on Monday; 2024-03-11 was a Monday.
        Assert.Equal(DateTimeOffset.Parse("2024-03-11T00:00:00Z", System.Globalization.CultureInfo.InvariantCulture).ToUnixTimeMilliseconds(), Timeframe.OneWeek.OpenTimeOf(t));
        Assert.Equal(DateTimeOffset.Parse("2024-03-01T00:00:00Z", System.Globalization.CultureInfo.InvariantCulture).ToUnixTimeMilliseconds(), Timeframe.OneMonth.OpenTimeOf(t));
        var march = Timeframe.OneMonth.OpenTimeOf(t);
        Assert.Equal(DateTimeOffset.Parse("2024-04-01T00:00:00Z", System.Globalization.CultureInfo.InvariantCulture).ToUnixTimeMilliseconds(), Timeframe.OneMonth.NextOpenTime(march));
        Assert.Equal(Timeframe.OneHour.OpenTimeOf(t) + 3_599_999, Timeframe.OneHour.CloseTimeOf(Timeframe.OneHour.OpenTimeOf(t)));
        Assert.Null(Timeframe.OneMonth.FixedDuration());
        Assert.Equal(TimeSpan.FromMinutes(5), Timeframe.FiveMinutes.FixedDuration());
    }

    [Theory]
    [InlineData(Timeframe.OneMinute)]
    [InlineData(Timeframe.FifteenMinutes)]
    [InlineData(Timeframe.OneHour)]
    [InlineData(Timeframe.OneWeek)]
    [InlineData(Timeframe.OneMonth)]
    public void ConsecutiveCandlesHaveConsecutiveBarIndexes(Timeframe timeframe)
    {
        var open = timeframe.OpenTimeOf(DateTimeOffset.Parse("2023-12-30T22:00:00Z", System.Globalization.CultureInfo.InvariantCulture).ToUnixTimeMilliseconds());
        var first = timeframe.BarIndex(open);
        for (var i = 1; i <= 30; i++)
        {
            open = timeframe.NextOpenTime(open);
            Assert.Equal(first + i, timeframe.BarIndex(open));
        }
    }

    [Fact]
    public void BarIndexIsTheOpenTimeInWholeIntervals()
    {
        // What the training pipeline computes: open time // interval (models/train/recurrent.py).
        Assert.Equal(28_405_245L, Timeframe.OneMinute.BarIndex(1_704_314_700_000));
        Assert.Equal(0L, Timeframe.OneMonth.BarIndex(0));
        Assert.Equal(12L * 54, Timeframe.OneMonth.BarIndex(DateTimeOffset.Parse("2024-01-01T00:00:00Z", System.Globalization.CultureInfo.InvariantCulture).ToUnixTimeMilliseconds()));
    }

    [Fact]
    public void ParseListNamesEveryBadEntry()
    {
        var error = Assert.Throws<FormatException>(() => Timeframes.ParseList(["1m", "2m", "7h"], "Ingest:Timeframes"));
        Assert.Contains("'2m'", error.Message, StringComparison.Ordinal);
        Assert.Contains("'7h'", error.Message, StringComparison.Ordinal);
        Assert.Contains("Ingest:Timeframes", error.Message, StringComparison.Ordinal);
    }
}
