using Microsoft.Extensions.Configuration;
using SignalStream.Hub.Webhooks;

namespace SignalStream.Hub.Tests.Webhooks;

public class WebhooksOptionsTests
{
    [Fact]
    public void EveryBadValueIsReportedWithItsKeyAndTheFix()
    {
        var options = Bind(new()
        {
            ["Webhooks:MaxBodyBytes"] = "100",
            ["Webhooks:AuthFailureBurst"] = "-1",
            ["Webhooks:AuthFailuresPerMinute"] = "0",
            ["Webhooks:TradingView:main:Secret"] = "short",
            ["Webhooks:TradingView:main:Mode"] = "mirror",
            ["Webhooks:TradingView:main:Timeframe"] = "15",
            ["Webhooks:TradingView:main:Confidence"] = "0",
            ["Webhooks:TradingView:main:WeightMode"] = "magic",
            ["Webhooks:TradingView:main:MinWeightFactor"] = "3",
            ["Webhooks:TradingView:main:VoteExpiry"] = "00:00:00",
            ["Webhooks:TradingView:main:MaxPriceDeviation"] = "2",
            ["Webhooks:TradingView:main:AlertsPerMinute"] = "0",
            ["Webhooks:TradingView:main:Burst"] = "0",
            ["Webhooks:TradingView:main:MaxAlertAge"] = "2.00:00:00",
            ["Webhooks:TradingView:bad/name:Secret"] = "0123456789abcdef0123",
        });

        var problems = options.Validate().ToList();
        string[] keys =
        [
            "Webhooks:MaxBodyBytes", "Webhooks:AuthFailureBurst", "Webhooks:AuthFailuresPerMinute", "main:Secret", "main:Mode", "main:Timeframe", "main:Confidence", "main:WeightMode",
            "main:MinWeightFactor", "main:VoteExpiry", "main:MaxPriceDeviation", "main:AlertsPerMinute", "main:Burst",
            "main:MaxAlertAge", "bad/name",
        ];
        foreach (var key in keys)
        {
            Assert.Contains(problems, p => p.Contains(key, StringComparison.Ordinal));
        }

        Assert.Equal(keys.Length, problems.Count);
    }

    [Fact]
    public void DefaultsWithASecretAreValidAndSymbolsMayBeCommaSeparated()
    {
        var options = Bind(new()
        {
            ["Webhooks:TradingView:main:Secret"] = "0123456789abcdef0123",
            ["Webhooks:TradingView:main:Symbols"] = "BTCUSDT, ethusdt",
        });

        Assert.Empty(options.Validate());
        var main = options.TradingView["MAIN"];
        Assert.Equal(["BTCUSDT", "ethusdt"], main.Symbols);
        Assert.Equal(("signal", 70.0, 0.25, TimeSpan.FromHours(1), 10), (main.Mode, main.Confidence, main.Weight, main.VoteExpiry, main.Burst));
    }

    private static WebhooksOptions Bind(Dictionary<string, string?> settings)
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(settings).Build();
        var section = configuration.GetSection(WebhooksOptions.SectionName);
        var options = section.Get<WebhooksOptions>() ?? new WebhooksOptions();
        options.ApplyCommaSeparated(section);
        return options;
    }
}
