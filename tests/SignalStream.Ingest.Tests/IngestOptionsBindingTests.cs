using Microsoft.Extensions.Configuration;
using SignalStream.Contracts;

namespace SignalStream.Ingest.Tests;

public sealed class IngestOptionsBindingTests
{
    private static IConfiguration Config(params (string Key, string Value)[] values) =>
        new ConfigurationBuilder().AddInMemoryCollection(values.Select(v => KeyValuePair.Create(v.Key, (string?)v.Value))).Build();

    [Fact]
    public void WithNothingConfiguredTheDefaultSymbolsAndTimeframesApply()
    {
        var options = IngestOptions.Bind(Config());

        Assert.Equal(["BTCUSDT", "ETHUSDT", "BNBUSDT", "SOLUSDT", "XRPUSDT"], options.ResolvedSymbols());
        Assert.Equal([Timeframe.OneMinute, Timeframe.FiveMinutes, Timeframe.FifteenMinutes, Timeframe.OneHour], options.ResolvedTimeframes());
    }

    [Fact]
    public void CommaSeparatedListsReplaceTheDefaultsWhole()
    {
        var options = IngestOptions.Bind(Config(("Ingest:Symbols", "btcusdt, ETHUSDT"), ("Ingest:Timeframes", "1h,1m")));

        Assert.Equal(["BTCUSDT", "ETHUSDT"], options.ResolvedSymbols());
        Assert.Equal([Timeframe.OneMinute, Timeframe.OneHour], options.ResolvedTimeframes());
        Assert.Equal(2 * 2, options.ResolvedStreams().Count);
    }

    [Theory]
    [InlineData("simulated", IngestSource.Simulated)]
    [InlineData("Replay", IngestSource.Replay)]
    [InlineData(" BINANCE ", IngestSource.Binance)]
    public void TheSourceBindsOnceAsAnEnumWhateverItsCase(string value, IngestSource expected)
    {
        Assert.Equal(expected, IngestOptions.Bind(Config(("Ingest:Source", value))).Source);
        Assert.Equal(IngestSource.Binance, IngestOptions.Bind(Config()).Source);
    }

    [Theory]
    [InlineData("kraken")]
    [InlineData("1")]
    [InlineData("")]
    public void AnUnknownSourceIsRefusedWithTheKeyAndTheValuesToUse(string value)
    {
        var error = Assert.ThrowsAny<InvalidOperationException>(() => IngestOptions.Bind(Config(("Ingest:Source", value))));
        Assert.Contains("Ingest:Source", error.Message, StringComparison.Ordinal);
        Assert.Contains("use 'binance', 'simulated' or 'replay'", error.InnerException?.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void IndexedListsBindAsUsual()
    {
        var options = IngestOptions.Bind(Config(("Ingest:Symbols:0", "SOLUSDT")));

        Assert.Equal(["SOLUSDT"], options.ResolvedSymbols());
    }

    [Fact]
    public void InvalidSettingsAreReportedWithTheKeyAndTheFix()
    {
        var options = IngestOptions.Bind(Config(("Ingest:Symbols", "BTC-USDT"), ("Ingest:Timeframes", "1m,2m")));

        var problems = options.Validate().ToList();

        Assert.Contains(problems, p => p.Contains("'BTC-USDT'", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.Contains("'2m'", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("-1")]
    [InlineData("100001")]
    public void AResumeBoundOutOfRangeIsRefusedWithItsKey(string value)
    {
        var options = IngestOptions.Bind(Config(("Ingest:ResumeBackfillCandles", value)));

        Assert.Contains(options.Validate(), p => p.StartsWith($"Ingest:ResumeBackfillCandles is {value}; it must be 0 to 100000", StringComparison.Ordinal));
    }
}
