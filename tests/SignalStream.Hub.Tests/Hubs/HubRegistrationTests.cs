using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using SignalStream.Hub.Hosting;
using SignalStream.Hub.Hubs;

namespace SignalStream.Hub.Tests.Hubs;

public sealed class HubRegistrationTests
{
    /// <summary>
    /// Two checks guard the Hub settings (their own rules, and a hub node's need for Redis); a node that breaks both is
    /// told both at once, each with its key, before it serves anyone.
    /// </summary>
    [Fact]
    public void AHubNodeWithoutRedisAndWithAnUnknownProtocolIsToldBothAtStart()
    {
        var configuration = new ConfigurationBuilder()
            .AddInMemoryCollection(new Dictionary<string, string?> { ["Hub:Protocols"] = "carrier-pigeon" })
            .Build();
        using var services = new ServiceCollection()
            .AddLogging()
            .AddSignalStreamHub(configuration, new NodeRoles(RunsEngine: false, ServesClients: true))
            .BuildServiceProvider();

        var error = Assert.Throws<OptionsValidationException>(() => services.GetRequiredService<IOptions<SignalHubOptions>>().Value);

        Assert.Equal(2, error.Failures.Count());
        Assert.Contains(error.Failures, f => f.Contains("Hub:Protocols is 'carrier-pigeon'", StringComparison.Ordinal));
        Assert.Contains(error.Failures, f => f.Contains("ConnectionStrings:Redis is empty", StringComparison.Ordinal));
    }

    [Fact]
    public void AHubNodeWithRedisAndDefaultSettingsStarts()
    {
        var configuration = new ConfigurationBuilder()
            .AddInMemoryCollection(new Dictionary<string, string?> { ["ConnectionStrings:Redis"] = "127.0.0.1:1" })
            .Build();
        using var services = new ServiceCollection()
            .AddLogging()
            .AddSignalStreamHub(configuration, new NodeRoles(RunsEngine: false, ServesClients: true))
            .BuildServiceProvider();

        Assert.NotNull(services.GetRequiredService<IOptions<SignalHubOptions>>().Value);
    }
}
