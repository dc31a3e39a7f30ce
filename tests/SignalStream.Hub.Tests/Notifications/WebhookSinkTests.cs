using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using SignalStream.Contracts;
using SignalStream.Contracts.Serialization;
using SignalStream.Engine.Events;
using SignalStream.EventStore;

namespace SignalStream.Hub.Tests.Notifications;

/// <summary>
/// The <c>webhook</c> sink on a real node against a real HTTP receiver on loopback: what arrives (the hub's JSON, the
/// signature a receiver can verify), what happens when the receiver fails (retries with one delivery id, Retry-After,
/// dead letters), across a restart, and with a receiver that hangs.
/// </summary>
public sealed class WebhookSinkTests
{
    private const string Secret = "whsec_0123456789abcdef0123456789abcdef";

    [Fact]
    public async Task ASignalArrivesAsTheHubsJsonWithASignatureTheReceiverCanVerify()
    {
        var data = NotificationNode.NewDataDirectory();
        try
        {
            await using var receiver = await HttpReceiver.StartAsync();
            await using var node = await NotificationNode.StartAsync(data, Sink("hook", receiver.Url()));
            var signal = TestSignals.Signal("BTCUSDT", 1);
            await node.PublishAsync(signal);

            var request = (await receiver.WaitForAsync(1))[0];
            Assert.Equal("POST", request.Method);
            Assert.Equal("/hook", request.Path);
            Assert.StartsWith("application/json", request.Header("Content-Type"), StringComparison.Ordinal);
            Assert.True(Guid.TryParse(request.Header("X-SignalStream-Delivery"), out _), request.Header("X-SignalStream-Delivery"));
            AssertSignedWith(Secret, request);

            // The body is the hub's contract for the stored signal, with "event" first.
            var body = JsonNode.Parse(request.Body)!.AsObject();
            Assert.Equal("event", body.First().Key);
            Assert.Equal("signal", (string?)body["event"]);
            body.Remove("event");
            var stored = await node.Store.ReadStreamAsync(EventStreams.Signals("BTCUSDT"), 1, 1);
            Assert.True(EventSerializer.TryDeserialize(stored[0], out var e, out _));
            var contract = JsonNode.Parse(JsonSerializer.Serialize(((SignalIssued)e).Signal, ContractsJsonContext.Default.Signal));
            Assert.True(JsonNode.DeepEquals(contract, body), $"webhook body {body.ToJsonString()}\nhub contract {contract!.ToJsonString()}");
            Assert.Equal(signal.Id, (string?)body["id"]);
        }
        finally
        {
            NotificationNode.DeleteQuietly(data);
        }
    }

    [Fact]
    public async Task FailedAttemptsAreRetriedWithTheSameDeliveryIdAndRetryAfterIsHonoured()
    {
        var data = NotificationNode.NewDataDirectory();
        try
        {
            await using var receiver = await HttpReceiver.StartAsync(0,
                new Reply(500),
                new Reply(500),
                new Reply(429, Headers: new Dictionary<string, string> { ["Retry-After"] = "2" }),
                Reply.Ok);
            await using var node = await NotificationNode.StartAsync(data, Sink("hook", receiver.Url(), "MaxAttempts=5"));
            await node.PublishAsync(TestSignals.Signal("BTCUSDT", 1));

            var requests = await receiver.WaitForAsync(4);
            await node.WaitForCounterAsync("signalstream_notifications_sent_total", "hook", 1);

            Assert.Single(requests.Select(r => r.Header("X-SignalStream-Delivery")).Distinct());
            Assert.Single(requests.Select(r => Convert.ToHexString(r.Body)).Distinct());
            foreach (var request in requests)
            {
                AssertSignedWith(Secret, request);
            }

            // The receiver asked for 2 s after its 429; the backoff alone would have come back within 0.2 s.
            var waited = requests[3].At - requests[2].At;
            Assert.True(waited >= TimeSpan.FromSeconds(2) - TimeSpan.FromMilliseconds(5), $"retried {waited.TotalMilliseconds} ms after a 429 with Retry-After: 2");

            Assert.Equal(1, await node.CounterAsync("signalstream_notifications_sent_total", "hook"));
            Assert.Equal(3, await node.CounterAsync("signalstream_notifications_failed_total", "hook"));
            Assert.Equal(3, await node.CounterAsync("signalstream_notifications_retried_total", "hook"));
            Assert.Equal(0, await node.CounterAsync("signalstream_notifications_dead_total", "hook"));
            Assert.Equal(4, requests.Count);
        }
        finally
        {
            NotificationNode.DeleteQuietly(data);
        }
    }

    [Fact]
    public async Task ANotificationBecomesADeadLetterAfterMaxAttemptsAndTheSinkCarriesOn()
    {
        var data = NotificationNode.NewDataDirectory();
        try
        {
            await using var receiver = await HttpReceiver.StartAsync();
            receiver.DefaultReply = new Reply(503);
            await using var node = await NotificationNode.StartAsync(data, Sink("hook", receiver.Url(), "MaxAttempts=3"));
            await node.PublishAsync(TestSignals.Signal("BTCUSDT", 1));

            await node.WaitForCounterAsync("signalstream_notifications_dead_total", "hook", 1);
            var dead = await node.Logs.WaitForEventAsync(7003).WaitAsync(NotificationNode.Wait);
            Assert.Equal(3, receiver.Requests.Count);
            Assert.Contains("BTCUSDT-1m-1", dead.Message, StringComparison.Ordinal);

            // Stored: in the sink's dead-letter stream, with the delivery id every attempt carried and the last error.
            var letters = await node.WaitForStreamAsync("notification-dead-letters-hook", 1);
            var letter = JsonNode.Parse(Assert.Single(letters).Data.Span)!;
            Assert.Equal("notification_dead_lettered", letters[0].Type);
            Assert.Equal(receiver.Requests[0].Header("X-SignalStream-Delivery"), (string?)letter["deliveryId"]);
            Assert.Equal(3, (int)letter["attempts"]!);
            Assert.Contains("HTTP 503", (string?)letter["error"], StringComparison.Ordinal);

            // Also served: the sink with what it holds, and its dead letters, newest first.
            using var http = new HttpClient { BaseAddress = node.Address, Timeout = NotificationNode.Wait };
            var sinks = JsonNode.Parse(await http.GetStringAsync(new Uri("/api/notifications", UriKind.Relative)))!.AsArray();
            var hook = Assert.Single(sinks)!;
            Assert.Equal("hook", (string?)hook["name"]);
            Assert.Equal("webhook", (string?)hook["type"]);
            Assert.True((bool)hook["running"]!);
            Assert.DoesNotContain(Secret, sinks.ToJsonString(), StringComparison.Ordinal);
            var served = JsonNode.Parse(await http.GetStringAsync(new Uri("/api/notifications/hook/dead-letters?limit=10", UriKind.Relative)))!.AsArray();
            Assert.Equal((string?)letter["deliveryId"], (string?)Assert.Single(served)!["deliveryId"]);
            using var unknown = await http.GetAsync(new Uri("/api/notifications/nope/dead-letters", UriKind.Relative));
            Assert.Equal(System.Net.HttpStatusCode.NotFound, unknown.StatusCode);

            // The sink is not stuck behind its dead letter: the next signal is delivered.
            receiver.DefaultReply = Reply.Ok;
            await node.PublishAsync(TestSignals.Signal("BTCUSDT", 2));
            await node.WaitForCounterAsync("signalstream_notifications_sent_total", "hook", 1);
            Assert.Equal(4, receiver.Requests.Count);
            Assert.DoesNotContain(node.Logs.Entries, l => l.Message.Contains(Secret, StringComparison.Ordinal) || l.State.Contains(Secret, StringComparison.Ordinal));
        }
        finally
        {
            NotificationNode.DeleteQuietly(data);
        }
    }

    [Fact]
    public async Task AReceiverThatRefusesTheRequestIsNotRetried()
    {
        var data = NotificationNode.NewDataDirectory();
        try
        {
            await using var receiver = await HttpReceiver.StartAsync(0, new Reply(401, Body: """{"error":"bad signature"}"""));
            await using var node = await NotificationNode.StartAsync(data, Sink("hook", receiver.Url(), "MaxAttempts=5"));
            await node.PublishAsync(TestSignals.Signal("BTCUSDT", 1));

            await node.WaitForCounterAsync("signalstream_notifications_dead_total", "hook", 1);
            Assert.Single(receiver.Requests);
            var letter = JsonNode.Parse(Assert.Single(await node.WaitForStreamAsync("notification-dead-letters-hook", 1)).Data.Span)!;
            Assert.Contains("HTTP 401", (string?)letter["error"], StringComparison.Ordinal);
            Assert.Contains("bad signature", (string?)letter["error"], StringComparison.Ordinal);
        }
        finally
        {
            NotificationNode.DeleteQuietly(data);
        }
    }

    [Fact]
    public Task ANotificationPendingAtAStopIsDeliveredOnceWithItsDeliveryIdAfterTheRestart() => PendingAcrossRestartAsync([]);

    [Fact]
    public Task ANotificationPendingAtAStopIsDeliveredOnceAfterTheRestartWithThePostgresStore() => PendingAcrossRestartAsync(TestPostgres.FreshStoreSettings());

    private static async Task PendingAcrossRestartAsync(string[] store)
    {
        var data = NotificationNode.NewDataDirectory();
        // Held refusing until the receiver comes up: a port merely free could be taken by another test's server, whose
        // 404 would dead-letter the notification at its first attempt.
        using var down = new RefusingPort();
        var port = down.Port;
        var url = new Uri($"http://127.0.0.1:{port}/hook");
        HttpReceiver? receiver = null;
        try
        {
            // The receiver is down: the node tries, fails, and is stopped while the notification is still pending.
            string[] sink = [.. store, .. Sink("hook", url, "MaxAttempts=100", "RetryMaxDelay=00:00:00.300")];
            await using (var first = await NotificationNode.StartAsync(data, sink))
            {
                await first.PublishAsync(TestSignals.Signal("BTCUSDT", 1));
                await first.WaitForCounterAsync("signalstream_notifications_failed_total", "hook", 2);
                await first.StopAsync();
            }

            string? pendingId;
            await using (var second = await NotificationNode.StartAsync(data, sink))
            {
                var failures = (await second.RecordsAsync("hook", "BTCUSDT")).Where(r => r.Type == "notification_attempt_failed").ToList();
                Assert.NotEmpty(failures);
                pendingId = (string?)JsonNode.Parse(failures[0].Data.Span)!["deliveryId"];

                // The receiver comes up after the restart.
                down.Release();
#pragma warning disable CA2000 // disposed in the finally below
                receiver = await HttpReceiver.StartAsync(port);
#pragma warning restore CA2000
                var delivered = (await receiver.WaitForAsync(1))[0];
                Assert.Equal(pendingId, delivered.Header("X-SignalStream-Delivery"));
                AssertSignedWith(Secret, delivered);
                Assert.Equal("BTCUSDT-1m-1", (string?)JsonNode.Parse(delivered.Body)!["id"]);

                // Its delivery is recorded before the stop; a third start must not send it again.
                await WaitForRecordAsync(second, "notification_delivered");
                await second.StopAsync();
                Assert.Single(receiver.Requests);
            }

            await using (var third = await NotificationNode.StartAsync(data, sink))
            {
                await third.PublishAsync(TestSignals.Signal("BTCUSDT", 2));
                var all = await receiver.WaitForAsync(2);
                Assert.Equal("BTCUSDT-1m-2", (string?)JsonNode.Parse(all[1].Body)!["id"]);
                Assert.Single(all, r => r.Header("X-SignalStream-Delivery") == pendingId);
            }
        }
        finally
        {
            if (receiver is not null)
            {
                await receiver.DisposeAsync();
            }

            NotificationNode.DeleteQuietly(data);
        }
    }

    [Fact]
    public async Task AHangingReceiverHoldsUpNeitherTheOtherSinkNorMoreMemoryThanItsBound()
    {
        var data = NotificationNode.NewDataDirectory();
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        try
        {
            await using var slow = await HttpReceiver.StartAsync();
            slow.DefaultReply = new Reply(200, Hold: release.Task);
            await using var fast = await HttpReceiver.StartAsync();
            await using var node = await NotificationNode.StartAsync(
                data,
                [.. Sink("slow", slow.Url(), "MaxPending=2", "Timeout=00:02:00"), .. Sink("fast", fast.Url())]);

            // Two symbols, so the bound at work is the sink's own (MaxPending), not one symbol's read-ahead window.
            const int perSymbol = 6;
            var expected = new List<string>();
            for (var seq = 1; seq <= perSymbol; seq++)
            {
                foreach (var symbol in new[] { "BTCUSDT", "ETHUSDT" })
                {
                    await node.PublishAsync(TestSignals.Signal(symbol, seq));
                    expected.Add($"{symbol}-1m-{seq}");
                }
            }

            // The fast sink gets every signal while the slow one still waits on its first answer.
            var delivered = await fast.WaitForAsync(expected.Count);
            Assert.Equal(expected.Order(), delivered.Select(r => (string)JsonNode.Parse(r.Body)!["id"]!).Order());
            Assert.Single(slow.Requests);
            var pending = (await node.ScrapeAsync())["signalstream_notifications_pending"].Samples.Single(s => s.Label("sink") == "slow").Value;
            Assert.InRange(pending, 1, 2);

            // Nothing was dropped: once the receiver answers, the rest comes from the store, in order per symbol.
            release.SetResult();
            var all = (await slow.WaitForAsync(expected.Count)).Select(r => (string)JsonNode.Parse(r.Body)!["id"]!).ToList();
            Assert.Equal(expected.Order(), all.Order());
            foreach (var symbol in new[] { "BTCUSDT", "ETHUSDT" })
            {
                Assert.Equal(Enumerable.Range(1, perSymbol).Select(i => $"{symbol}-1m-{i}"), all.Where(id => id.StartsWith(symbol, StringComparison.Ordinal)));
            }
        }
        finally
        {
            release.TrySetResult();
            NotificationNode.DeleteQuietly(data);
        }
    }

    [Fact]
    public async Task OnlyWhatTheFiltersTakeIsNotifiedAndAResolutionFollowsItsSignal()
    {
        var data = NotificationNode.NewDataDirectory();
        try
        {
            await using var receiver = await HttpReceiver.StartAsync();
            await using var node = await NotificationNode.StartAsync(
                data,
                [.. Sink("eth5", receiver.Url("/eth5"), "Symbols=ETHUSDT", "Timeframes=5m", "MinConfidence=70"),
                 .. Sink("outcomes", receiver.Url("/outcomes"), "Events=signalResolved")]);

            var btc = TestSignals.Signal("BTCUSDT", 1, Timeframe.FiveMinutes, 90);
            var eth1m = TestSignals.Signal("ETHUSDT", 1, Timeframe.OneMinute, 90);
            var ethLow = TestSignals.Signal("ETHUSDT", 2, Timeframe.FiveMinutes, 60);
            var ethHigh = TestSignals.Signal("ETHUSDT", 3, Timeframe.FiveMinutes, 75);
            foreach (var signal in new[] { btc, eth1m, ethLow, ethHigh })
            {
                await node.PublishAsync(signal);
            }

            await node.PublishOutcomeAsync(TestSignals.Outcome(ethLow));
            await node.PublishOutcomeAsync(TestSignals.Outcome(ethHigh));
            await node.PublishOutcomeAsync(TestSignals.Outcome(btc) with { IsShadow = true });

            // eth5: ethHigh and its resolution; outcomes: both ETH resolutions (no signals, no shadow outcome).
            var requests = await receiver.WaitForAsync(4);
            await node.WaitForCounterAsync("signalstream_notifications_sent_total", "eth5", 2);
            await node.WaitForCounterAsync("signalstream_notifications_sent_total", "outcomes", 2);
            Assert.Equal(
                ["signal ETHUSDT-5m-3", "signalResolved ETHUSDT-5m-3"],
                Describe(requests.Where(r => r.Path == "/eth5")));
            Assert.Equal(
                ["signalResolved ETHUSDT-5m-2", "signalResolved ETHUSDT-5m-3"],
                Describe(requests.Where(r => r.Path == "/outcomes")));
            Assert.Equal(4, receiver.Requests.Count);
        }
        finally
        {
            NotificationNode.DeleteQuietly(data);
        }
    }

    internal static string[] Sink(string name, Uri url, params string[] more) =>
    [
        $"Notifications:Sinks:{name}:Type=webhook",
        $"Notifications:Sinks:{name}:Url={url}",
        $"Notifications:Sinks:{name}:Secret={Secret}",
        $"Notifications:Sinks:{name}:RetryInitialDelay=00:00:00.050",
        $"Notifications:Sinks:{name}:RetryMaxDelay=00:00:00.200",
        .. more.Select(m => $"Notifications:Sinks:{name}:{m}"),
    ];

    /// <summary>Verifies the signature the way docs/notifications.md tells a receiver to, independently of the server's code.</summary>
    internal static void AssertSignedWith(string secret, ReceivedRequest request)
    {
        var header = request.Header("X-SignalStream-Signature");
        var parts = header.Split(',').Select(p => p.Split('=', 2)).ToDictionary(p => p[0], p => p[1]);
        var t = long.Parse(parts["t"], CultureInfo.InvariantCulture);
        Assert.InRange(t, DateTimeOffset.UtcNow.AddMinutes(-5).ToUnixTimeSeconds(), DateTimeOffset.UtcNow.AddMinutes(5).ToUnixTimeSeconds());
        byte[] signed = [.. Encoding.UTF8.GetBytes(parts["t"] + "."), .. request.Body];
        var expected = HMACSHA256.HashData(Encoding.UTF8.GetBytes(secret), signed);
        Assert.Equal(Convert.ToHexString(expected).ToLowerInvariant(), parts["v1"]);
        Assert.True(CryptographicOperations.FixedTimeEquals(Convert.FromHexString(parts["v1"]), expected));
    }

    private static async Task WaitForRecordAsync(NotificationNode node, string type)
    {
        using var deadline = new CancellationTokenSource(NotificationNode.Wait);
        while (!(await node.RecordsAsync("hook", "BTCUSDT")).Any(r => r.Type == type))
        {
            await Task.Delay(50, deadline.Token);
        }
    }

    private static string[] Describe(IEnumerable<ReceivedRequest> requests) =>
        [.. requests.Select(r => JsonNode.Parse(r.Body)!).Select(b => $"{(string?)b["event"]} {(string?)b["id"] ?? (string?)b["signalId"]}")];
}
