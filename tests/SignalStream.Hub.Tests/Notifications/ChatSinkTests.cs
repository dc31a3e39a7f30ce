using System.Text.Json.Nodes;
using SignalStream.Contracts;

namespace SignalStream.Hub.Tests.Notifications;

/// <summary>
/// The chat sinks on a real node: Telegram through Telegram.Bot against a local fake of the Bot API's
/// <c>sendMessage</c>; Discord and Slack incoming webhooks against receivers that check their payload shapes.
/// </summary>
public sealed class ChatSinkTests
{
    private const string BotToken = "123456789:AAHk2nX-test_token_9f8e7d6c5b4a";

    [Fact]
    public async Task TelegramSendsTheSignalToTheChatThroughTheConfiguredBotApi()
    {
        var data = NotificationNode.NewDataDirectory();
        try
        {
            await using var api = await HttpReceiver.StartAsync();
            api.DefaultReply = SentMessage();
            await using var node = await NotificationNode.StartAsync(data, Telegram(api));
            await node.PublishAsync(TestSignals.Signal("BTCUSDT", 2, Timeframe.FiveMinutes, 77));

            var request = (await api.WaitForAsync(1))[0];
            Assert.Equal($"/bot{BotToken}/sendMessage", request.Path);
            var body = JsonNode.Parse(request.Body)!;
            Assert.Equal(-1001234567890, (long)body["chat_id"]!);
            var text = (string?)body["text"];
            Assert.StartsWith("LONG BTCUSDT 5m · confidence 77.0%", text, StringComparison.Ordinal);
            Assert.Contains("Entry: 102", text, StringComparison.Ordinal);
            Assert.Contains("• test", text, StringComparison.Ordinal);
            Assert.Null(body["parse_mode"]);
            await node.WaitForCounterAsync("signalstream_notifications_sent_total", "chat", 1);
        }
        finally
        {
            NotificationNode.DeleteQuietly(data);
        }
    }

    [Fact]
    public async Task TelegramsRetryAfterIsHonouredAndTheTokenNeverReachesTheLogs()
    {
        var data = NotificationNode.NewDataDirectory();
        try
        {
            await using var api = await HttpReceiver.StartAsync(0, new Reply(429, """{"ok":false,"error_code":429,"description":"Too Many Requests: retry after 2","parameters":{"retry_after":2}}"""));
            api.DefaultReply = SentMessage();
            await using var node = await NotificationNode.StartAsync(data, Telegram(api));
            await node.PublishAsync(TestSignals.Signal("BTCUSDT", 1));

            var requests = await api.WaitForAsync(2);
            await node.WaitForCounterAsync("signalstream_notifications_sent_total", "chat", 1);
            Assert.True(requests[1].At - requests[0].At >= TimeSpan.FromSeconds(2) - TimeSpan.FromMilliseconds(5), $"retried after {(requests[1].At - requests[0].At).TotalMilliseconds} ms");
            Assert.Equal(requests[0].Text, requests[1].Text);
            var retrying = await node.Logs.WaitForEventAsync(7002).WaitAsync(NotificationNode.Wait);
            Assert.Contains("429", retrying.Message, StringComparison.Ordinal);
            Assert.DoesNotContain(node.Logs.Entries, e => e.Message.Contains(BotToken, StringComparison.Ordinal) || e.State.Contains(BotToken, StringComparison.Ordinal));
        }
        finally
        {
            NotificationNode.DeleteQuietly(data);
        }
    }

    [Fact]
    public async Task DiscordGetsAnEmbedWithMentionsSwitchedOffAndItsRetryAfterIsHonoured()
    {
        var data = NotificationNode.NewDataDirectory();
        try
        {
            await using var discord = await HttpReceiver.StartAsync(0, new Reply(429, """{"message":"You are being rate limited.","retry_after":1.5,"global":false}""", new Dictionary<string, string> { ["Retry-After"] = "2" }));
            discord.DefaultReply = new Reply(204);
            await using var node = await NotificationNode.StartAsync(data, Http("discord", "discord", discord.Url("/api/webhooks/1/abcdef")));
            var signal = TestSignals.Signal("ETHUSDT", 1) with { Rationale = ["LSTM and PatchTST agree short", "@everyone look"] };
            await node.PublishAsync(signal);
            await node.PublishOutcomeAsync(TestSignals.Outcome(signal));

            var requests = await discord.WaitForAsync(3);
            await node.WaitForCounterAsync("signalstream_notifications_sent_total", "discord", 2);

            // The signal was refused once (429) and retried no sooner than asked; the resolution went out meanwhile.
            var signals = requests.Where(r => r.Text.Contains("confidence", StringComparison.Ordinal)).ToList();
            Assert.Equal(2, signals.Count);
            Assert.True(signals[1].At - signals[0].At >= TimeSpan.FromSeconds(2) - TimeSpan.FromMilliseconds(5), $"retried after {(signals[1].At - signals[0].At).TotalMilliseconds} ms");
            Assert.Equal(signals[0].Text, signals[1].Text);

            var message = JsonNode.Parse(signals[1].Body)!;
            Assert.Empty(message["allowed_mentions"]!["parse"]!.AsArray());
            var embed = message["embeds"]!.AsArray().Single()!;
            Assert.Equal("SHORT ETHUSDT 1m · confidence 80.0%", (string?)embed["title"]);
            Assert.Equal(0xE01B24, (int)embed["color"]!);
            Assert.Equal("LSTM and PatchTST agree short\n@everyone look", (string?)embed["description"]);
            var fields = embed["fields"]!.AsArray().ToDictionary(f => (string)f!["name"]!, f => (string?)f!["value"]);
            Assert.Equal("101", fields["Entry"]);
            Assert.Equal("111", fields["Target"]);
            Assert.Equal("96", fields["Stop"]);
            Assert.Equal("id ETHUSDT-1m-1", (string?)embed["footer"]!["text"]);
            Assert.EndsWith("Z", (string?)embed["timestamp"], StringComparison.Ordinal);

            var resolved = JsonNode.Parse(requests.Single(r => !r.Text.Contains("confidence", StringComparison.Ordinal)).Body)!["embeds"]![0]!;
            Assert.Equal("WIN ETHUSDT 1m SHORT (seq 1): +2.00 R", (string?)resolved["title"]);
            Assert.Equal(0x26A269, (int)resolved["color"]!);
        }
        finally
        {
            NotificationNode.DeleteQuietly(data);
        }
    }

    [Fact]
    public async Task SlackGetsBlockKitWithFallbackTextAndEscapedMarkup()
    {
        var data = NotificationNode.NewDataDirectory();
        try
        {
            await using var slack = await HttpReceiver.StartAsync();
            slack.DefaultReply = new Reply(200, "ok");
            await using var node = await NotificationNode.StartAsync(data, Http("slack", "slack", slack.Url("/services/T000/B000/XXXX")));
            await node.PublishAsync(TestSignals.Signal("BTCUSDT", 2) with { Rationale = ["fusion 70 <@here> & more"] });

            var message = JsonNode.Parse((await slack.WaitForAsync(1))[0].Body)!;
            Assert.Equal("LONG BTCUSDT 1m · confidence 80.0%", (string?)message["text"]);
            var blocks = message["blocks"]!.AsArray();
            Assert.Equal(["header", "section", "section", "context"], blocks.Select(b => (string?)b!["type"]));
            Assert.Equal("plain_text", (string?)blocks[0]!["text"]!["type"]);
            Assert.Equal("LONG BTCUSDT 1m · confidence 80.0%", (string?)blocks[0]!["text"]!["text"]);
            var fields = blocks[1]!["fields"]!.AsArray().Select(f => (string?)f!["text"]).ToList();
            Assert.All(blocks[1]!["fields"]!.AsArray(), f => Assert.Equal("mrkdwn", (string?)f!["type"]));
            Assert.Contains("*Entry*\n102", fields);
            Assert.Contains("*R:R*\n2.00", fields);
            Assert.True(fields.Count <= 10);
            Assert.Equal("• fusion 70 &lt;@here&gt; &amp; more", (string?)blocks[2]!["text"]!["text"]);
            Assert.Equal("id BTCUSDT-1m-2", (string?)blocks[3]!["elements"]![0]!["text"]);
        }
        finally
        {
            NotificationNode.DeleteQuietly(data);
        }
    }

    private static Reply SentMessage() =>
        new(200, """{"ok":true,"result":{"message_id":42,"date":1700000000,"chat":{"id":-1001234567890,"type":"channel","title":"desk"},"text":"…"}}""");

    private static string[] Telegram(HttpReceiver api) =>
    [
        "Notifications:Sinks:chat:Type=telegram",
        $"Notifications:Sinks:chat:BotToken={BotToken}",
        "Notifications:Sinks:chat:ChatId=-1001234567890",
        $"Notifications:Sinks:chat:ApiBaseUrl={api.Url("")}",
        "Notifications:Sinks:chat:RetryInitialDelay=00:00:00.050",
        "Notifications:Sinks:chat:RetryMaxDelay=00:00:00.200",
    ];

    private static string[] Http(string name, string type, Uri url) =>
    [
        $"Notifications:Sinks:{name}:Type={type}",
        $"Notifications:Sinks:{name}:Url={url}",
        $"Notifications:Sinks:{name}:RetryInitialDelay=00:00:00.050",
        $"Notifications:Sinks:{name}:RetryMaxDelay=00:00:00.200",
    ];
}
