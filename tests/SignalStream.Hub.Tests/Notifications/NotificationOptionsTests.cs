using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using SignalStream.Hub.Hosting;
using SignalStream.Hub.Notifications;
using SignalStream.Hub.Notifications.Internal;

namespace SignalStream.Hub.Tests.Notifications;

/// <summary>Sink configuration is checked at start: every problem named with its key and fix, and no secret in any message.</summary>
public sealed class NotificationOptionsTests
{
    [Fact]
    public void EveryProblemOfASinkIsNamedWithItsKeyAndWhatToDo()
    {
        var errors = Resolve("hook", new SinkOptions
        {
            Type = "webhook",
            Url = "ftp://example.com/hook",
            Secret = "short",
            Timeframes = ["1m", "1H"],
            Symbols = ["BTC-USDT"],
            MinConfidence = 150,
            Events = ["signal", "fills"],
            MaxAttempts = 0,
            MaxPending = 0,
        });

        Assert.Contains(errors, e => e.StartsWith("Notifications:Sinks:hook:Url must be an absolute http(s) URL", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("Notifications:Sinks:hook:Secret must be at least 16 characters", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.Contains("Timeframes has '1H'", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.Contains("Symbols has 'BTC-USDT'", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.Contains("MinConfidence is 150; use 0 to 100", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.Contains("Events has 'fills'; use signal and/or signalResolved", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.Contains("MaxAttempts is 0", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.Contains("MaxPending is 0", StringComparison.Ordinal));
        Assert.DoesNotContain(errors, e => e.Contains("short", StringComparison.Ordinal) && e.Contains("Secret", StringComparison.Ordinal) && e.Contains("'short'", StringComparison.Ordinal));
    }

    [Fact]
    public void AnUnknownTypeListsTheTypes() =>
        Assert.Equal(
            ["Notifications:Sinks:x:Type is 'pager'; use one of: webhook, telegram, email, discord, slack."],
            Resolve("x", new SinkOptions { Type = "pager" }));

    [Theory]
    [InlineData("discord", "http://discord.example/api/webhooks/1/secret-token", false)]
    [InlineData("slack", "http://hooks.example/services/T/B/secret", false)]
    [InlineData("slack", "http://127.0.0.1:9000/services/T/B/x", true)]
    [InlineData("discord", "https://discord.com/api/webhooks/1/x", true)]
    public void ChatWebhookUrlsAreCredentialsAndMustNotTravelInClearText(string type, string url, bool valid)
    {
        var errors = Resolve("chat", new SinkOptions { Type = type, Url = url });
        Assert.Equal(valid, errors.Count == 0);
        if (!valid)
        {
            Assert.Contains("must use https", Assert.Single(errors), StringComparison.Ordinal);
            Assert.DoesNotContain("secret", errors[0], StringComparison.Ordinal);
        }
    }

    [Fact]
    public void TelegramAndEmailSecretsAreNeverQuoted()
    {
        var telegram = Resolve("t", new SinkOptions { Type = "telegram", BotToken = "12345:not-a-valid-token", ChatId = "desk" });
        Assert.Contains(telegram, e => e.StartsWith("Notifications:Sinks:t:BotToken must be", StringComparison.Ordinal));
        Assert.Contains(telegram, e => e.StartsWith("Notifications:Sinks:t:ChatId must be", StringComparison.Ordinal));
        Assert.DoesNotContain(telegram, e => e.Contains("not-a-valid-token", StringComparison.Ordinal));

        var email = Resolve("m", new SinkOptions { Type = "email", Smtp = { Host = "smtp.example.com", Password = "hunter2-secret", From = "nobody", Security = "none" } });
        Assert.Contains(email, e => e.Contains("set Username and Password together", StringComparison.Ordinal));
        Assert.Contains(email, e => e.Contains("Security is 'none'; use starttls", StringComparison.Ordinal));
        Assert.Contains(email, e => e.Contains("To is empty", StringComparison.Ordinal));
        Assert.Contains(email, e => e.Contains("From 'nobody' is not a mail address", StringComparison.Ordinal));
        Assert.DoesNotContain(email, e => e.Contains("hunter2-secret", StringComparison.Ordinal));
    }

    [Fact]
    public async Task ANodeWithABadSinkDoesNotStartAndSaysWhy()
    {
        var data = NotificationNode.NewDataDirectory();
        try
        {
            // The engine's outputs are built with the host (explicit wiring), so a bad sink may stop Build or StartAsync.
            var failure = await Assert.ThrowsAsync<OptionsValidationException>(async () =>
            {
                var app = SignalStreamHost.Build(
                [
                    "--urls=http://127.0.0.1:0", $"--Storage:File:Path={data}", "--Ingest:Source=simulated",
                    "--Notifications:Sinks:hook:Type=webhook", "--Notifications:Sinks:hook:Url=http://127.0.0.1:1/hook",
                    "--Notifications:Sinks:hook:Secret=tooshort",
                ]);
                await using (app)
                {
                    await app.StartAsync().WaitAsync(NotificationNode.Wait);
                }
            });
            Assert.Contains("Notifications:Sinks:hook:Secret must be at least 16 characters", failure.Message, StringComparison.Ordinal);
            Assert.DoesNotContain("tooshort", failure.Message, StringComparison.Ordinal);
        }
        finally
        {
            NotificationNode.DeleteQuietly(data);
        }
    }

    [Fact]
    public void CommaSeparatedSwitchesBecomeLists()
    {
        var configuration = new ConfigurationBuilder().AddCommandLine(
        [
            "--Notifications:Sinks:desk:Type=webhook", "--Notifications:Sinks:desk:Url=https://example.com/hook",
            "--Notifications:Sinks:desk:Secret=0123456789abcdef", "--Notifications:Sinks:desk:Symbols=btcusdt, ETHUSDT",
            "--Notifications:Sinks:desk:Timeframes=1m,5m", "--Notifications:Sinks:desk:Events=signalResolved",
        ]).Build();
        var services = new ServiceCollection().AddSignalStreamNotifications(configuration, NodeRoles.Parse("hub"));
        using var provider = services.BuildServiceProvider();
        var desk = provider.GetRequiredService<IOptions<NotificationsOptions>>().Value.Sinks["desk"];
        Assert.Equal(["btcusdt", "ETHUSDT"], desk.Symbols);
        Assert.Equal(["1m", "5m"], desk.Timeframes);
        Assert.Equal(["signalResolved"], desk.Events);
    }

    private static List<string> Resolve(string name, SinkOptions options)
    {
        var errors = new List<string>();
        SinkSettings.TryResolve(name, options, errors, out _);
        return errors;
    }
}
