using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Console;
using Microsoft.Extensions.Options;
using SignalStream.Hub.Hosting;

namespace SignalStream.Hub.Tests.Observability;

public sealed class LoggingTests
{
    [Fact]
    public async Task AccessTokensNeverReachTheLogsEvenAtDebugLevel()
    {
        await using var server = await TestServer.StartAsync([.. TestServer.SimulatedRun, "--Logging:LogLevel:Default=Debug", "--Logging:LogLevel:Microsoft.AspNetCore=Debug"]);
        var logged = server.Logs.WaitForEventAsync(6010);

        using var response = await server.Http.GetAsync(new Uri("/health/live?symbol=BTCUSDT&access_token=s3cr3t-jwt-value", UriKind.Relative))
            .WaitAsync(TimeSpan.FromSeconds(30));
        var entry = await logged.WaitAsync(TimeSpan.FromSeconds(30));

        Assert.Contains("/health/live?symbol=BTCUSDT&access_token=[redacted]", entry.Message, StringComparison.Ordinal);
        Assert.Contains(server.Logs.Entries, e => e.Category.StartsWith("Microsoft.AspNetCore", StringComparison.Ordinal) && e.Level == Microsoft.Extensions.Logging.LogLevel.Debug);
        Assert.DoesNotContain(server.Logs.Entries, e => e.Message.Contains("s3cr3t", StringComparison.Ordinal) || e.State.Contains("s3cr3t", StringComparison.Ordinal));
    }

    [Fact]
    public async Task JsonFormatSwitchesTheConsoleToJsonWithScopes()
    {
        await using var server = await TestServer.StartAsync([.. TestServer.SimulatedRun, "--Logging:Format=json"]);

        var console = server.Services.GetRequiredService<IOptionsMonitor<ConsoleLoggerOptions>>().CurrentValue;
        var json = server.Services.GetRequiredService<IOptionsMonitor<JsonConsoleFormatterOptions>>().CurrentValue;

        Assert.Equal(ConsoleFormatterNames.Json, console.FormatterName);
        Assert.True(json.IncludeScopes);
        Assert.True(json.UseUtcTimestamp);
    }

    [Theory]
    [InlineData(new string[0], false)]
    [InlineData(new[] { "--Logging:Format=json" }, true)]
    [InlineData(new[] { "--Logging:Console:FormatterOptions:IncludeScopes=true" }, true)]
    public async Task LogScopesAreCapturedOnlyWhenTheLogFormatPrintsThem(string[] settings, bool captured)
    {
        await using var server = await TestServer.StartAsync([.. TestServer.SimulatedRun, .. settings]);

        var filter = server.Services.GetRequiredService<IOptionsMonitor<LoggerFilterOptions>>().CurrentValue;

        Assert.Equal(captured, filter.CaptureScopes);
    }

    [Fact]
    public async Task AspNetCoreHostingDiagnosticsAreOffSoRequestsStartNoActivity()
    {
        // ASP.NET Core starts an Activity for every request while this category is enabled at any level.
        await using var server = await TestServer.StartAsync([.. TestServer.SimulatedRun, "--Logging:LogLevel:Default=Debug"]);

        var logger = server.Services.GetRequiredService<ILoggerFactory>().CreateLogger("Microsoft.AspNetCore.Hosting.Diagnostics");

        Assert.False(logger.IsEnabled(LogLevel.Critical));
    }

    [Fact]
    public void AnUnknownLogFormatStopsStartWithAMessageThatSaysWhatToUse()
    {
        var error = Assert.Throws<InvalidOperationException>(() => SignalStreamHost.Build(["--urls", "http://127.0.0.1:0", "--Node:Roles=hub", "--Logging:Format=xml"]));

        Assert.Contains("Logging:Format is 'xml'", error.Message, StringComparison.Ordinal);
        Assert.Contains("'json'", error.Message, StringComparison.Ordinal);
    }
}
