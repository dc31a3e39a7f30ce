using System.Text.Json.Nodes;

namespace SignalStream.Hub.Tests.Notifications;

/// <summary>The <c>email</c> sink on a real node against a real SMTP server (aiosmtpd) that requires STARTTLS and AUTH.</summary>
public sealed class EmailSinkTests
{
    private const string User = "signals";
    private const string Password = "smtp-pass-3f9a1c77";

    [Fact]
    public async Task ASignalIsMailedOverStartTlsAfterSigningIn()
    {
        var data = NotificationNode.NewDataDirectory();
        try
        {
            await using var smtp = await SmtpServer.StartAsync(User, Password);
            await using var node = await NotificationNode.StartAsync(data, Sink("desk", smtp, Password));
            await node.PublishAsync(TestSignals.Signal("BTCUSDT", 1, confidence: 82.5));

            var raw = (await smtp.WaitForAsync(1))[0];
            using var message = MimeKit.MimeMessage.Load(new MemoryStream(System.Text.Encoding.UTF8.GetBytes(raw)));
            Assert.Equal("yes", message.Headers["X-TLS"]);
            Assert.Equal("signals", message.Headers["X-Authenticated-As"]);
            Assert.Equal("desk@example.com,risk@example.com", message.Headers["X-Envelope-To"]);
            Assert.Equal("[SignalStream] SHORT BTCUSDT 1m · confidence 82.5%", message.Subject);
            Assert.Equal(["desk@example.com", "risk@example.com"], message.To.Mailboxes.Select(m => m.Address));
            var text = message.TextBody;
            Assert.Contains("Entry: 101", text, StringComparison.Ordinal);
            Assert.Contains("Target: 111", text, StringComparison.Ordinal);
            Assert.Contains("Stop: 96", text, StringComparison.Ordinal);
            Assert.Contains("id BTCUSDT-1m-1", text, StringComparison.Ordinal);

            // The Message-Id and the delivery header carry the delivery id, the same on every attempt.
            await node.WaitForCounterAsync("signalstream_notifications_sent_total", "desk", 1);
            var delivered = (await node.WaitForStreamAsync("notifications-desk-BTCUSDT", 2)).Single(r => r.Type == "notification_delivered");
            var deliveryId = (string?)JsonNode.Parse(delivered.Data.Span)!["deliveryId"];
            Assert.Equal($"{deliveryId}@signalstream", message.MessageId);
            Assert.Equal(deliveryId, message.Headers["X-SignalStream-Delivery"]);
        }
        finally
        {
            NotificationNode.DeleteQuietly(data);
        }
    }

    [Fact]
    public async Task AWrongPasswordIsADeadLetterAtOnceAndThePasswordIsNeverLogged()
    {
        var data = NotificationNode.NewDataDirectory();
        try
        {
            await using var smtp = await SmtpServer.StartAsync(User, Password);
            const string wrong = "wrong-pass-8c1d2e55";
            await using var node = await NotificationNode.StartAsync(data, Sink("desk", smtp, wrong));
            await node.PublishAsync(TestSignals.Signal("BTCUSDT", 1));

            await node.WaitForCounterAsync("signalstream_notifications_dead_total", "desk", 1);
            Assert.Equal(1, await node.CounterAsync("signalstream_notifications_failed_total", "desk"));
            var letter = JsonNode.Parse(Assert.Single(await node.WaitForStreamAsync("notification-dead-letters-desk", 1)).Data.Span)!;
            Assert.Contains("sign-in refused", (string?)letter["error"], StringComparison.Ordinal);
            Assert.Empty(smtp.Messages);
            Assert.DoesNotContain(node.Logs.Entries, e => e.Message.Contains(wrong, StringComparison.Ordinal) || e.State.Contains(wrong, StringComparison.Ordinal));
        }
        finally
        {
            NotificationNode.DeleteQuietly(data);
        }
    }

    [Fact]
    public async Task AServerWithoutStartTlsGetsNoMailAndNoPassword()
    {
        var data = NotificationNode.NewDataDirectory();
        try
        {
            await using var smtp = await SmtpServer.StartAsync(user: null, password: null, tls: false);
            await using var node = await NotificationNode.StartAsync(data, Sink("desk", smtp, Password));
            await node.PublishAsync(TestSignals.Signal("BTCUSDT", 1));

            await node.WaitForCounterAsync("signalstream_notifications_dead_total", "desk", 1);
            var letter = JsonNode.Parse(Assert.Single(await node.WaitForStreamAsync("notification-dead-letters-desk", 1)).Data.Span)!;
            Assert.Contains("cannot do what the sink requires", (string?)letter["error"], StringComparison.Ordinal);
            Assert.Empty(smtp.Messages);
        }
        finally
        {
            NotificationNode.DeleteQuietly(data);
        }
    }

    private static string[] Sink(string name, SmtpServer smtp, string password) =>
    [
        $"Notifications:Sinks:{name}:Type=email",
        $"Notifications:Sinks:{name}:Smtp:Host=127.0.0.1",
        $"Notifications:Sinks:{name}:Smtp:Port={smtp.Port}",
        $"Notifications:Sinks:{name}:Smtp:Username={User}",
        $"Notifications:Sinks:{name}:Smtp:Password={password}",
        $"Notifications:Sinks:{name}:Smtp:From=SignalStream <signals@example.com>",
        $"Notifications:Sinks:{name}:Smtp:To=desk@example.com,risk@example.com",
        .. smtp.CertificatePath is { } certificate ? [$"Notifications:Sinks:{name}:Smtp:TrustedCertificatePath={certificate}"] : Array.Empty<string>(),
        $"Notifications:Sinks:{name}:MaxAttempts=3",
        $"Notifications:Sinks:{name}:RetryInitialDelay=00:00:00.050",
        $"Notifications:Sinks:{name}:RetryMaxDelay=00:00:00.200",
    ];
}
