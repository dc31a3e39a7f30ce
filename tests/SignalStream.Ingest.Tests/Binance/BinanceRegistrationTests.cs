using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using SignalStream.Ingest.Binance;

namespace SignalStream.Ingest.Tests.Binance;

public sealed class BinanceRegistrationTests
{
    [Fact]
    public void TheBinanceSourceIsRegisteredWithDocumentedDefaults()
    {
        using var services = Build([]);
        var source = services.GetRequiredService<ICandleSource>();
        Assert.IsType<BinanceCandleSource>(source);
        Assert.Equal("binance", source.Exchange);

        var options = services.GetRequiredService<IOptions<BinanceOptions>>().Value;
        Assert.Equal("wss://stream.binance.com:9443", options.StreamUrl);
        Assert.Equal("https://api.binance.com", options.RestUrl);
        Assert.Equal(1024, options.MaxStreamsPerConnection);
        Assert.Equal(5, options.MaxOutgoingMessagesPerSecond);
        Assert.Equal(300, options.MaxConnectionsPerFiveMinutes);
        Assert.True(options.ConnectionLifetime < TimeSpan.FromHours(24));
        Assert.Equal(4 * 1024 * 1024, options.MaxRestResponseBytes);
    }

    [Fact]
    public void ConfigurationIsBoundFromIngestBinance()
    {
        using var services = Build(new()
        {
            ["Ingest:Binance:StreamUrl"] = "ws://127.0.0.1:9443",
            ["Ingest:Binance:MaxStreamsPerConnection"] = "200",
        });
        var options = services.GetRequiredService<IOptions<BinanceOptions>>().Value;
        Assert.Equal("ws://127.0.0.1:9443", options.StreamUrl);
        Assert.Equal(200, options.MaxStreamsPerConnection);
    }

    [Theory]
    [InlineData("StreamUrl", "https://stream.binance.com", "StreamUrl is 'https://stream.binance.com'; it must be an absolute ws or wss URL")]
    [InlineData("RestUrl", "api.binance.com", "RestUrl is 'api.binance.com'; it must be an absolute http or https URL")]
    [InlineData("MaxStreamsPerConnection", "2000", "MaxStreamsPerConnection is 2000; Binance allows 1 to 1024")]
    [InlineData("MaxOutgoingMessagesPerSecond", "6", "MaxOutgoingMessagesPerSecond is 6; use 2 to 5")]
    [InlineData("MaxConnectionsPerFiveMinutes", "301", "MaxConnectionsPerFiveMinutes is 301; Binance allows 1 to 300")]
    [InlineData("ConnectionLifetime", "1.00:00:00", "ConnectionLifetime is 1.00:00:00; it must be positive and under 24:00:00")]
    [InlineData("NoDataTimeout", "00:00:00", "NoDataTimeout is 00:00:00; use at least")]
    [InlineData("MaxRestResponseBytes", "65536", "MaxRestResponseBytes is 65536; use 1048576 to 268435456")]
    public void InvalidSettingsFailAtStartWithAMessageThatSaysHowToFixThem(string key, string value, string message)
    {
        using var services = Build(new() { [$"Ingest:Binance:{key}"] = value });
        var error = Assert.Throws<OptionsValidationException>(() => services.GetRequiredService<IOptions<BinanceOptions>>().Value);
        Assert.Contains("Ingest:Binance:" + message, error.Message, StringComparison.Ordinal);
    }

    private static ServiceProvider Build(Dictionary<string, string?> settings)
    {
        settings["Ingest:Source"] = "binance";
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(settings).Build();
        return new ServiceCollection().AddLogging().AddSignalStreamIngest(configuration).BuildServiceProvider();
    }
}
