using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using SignalStream.Contracts;
using SignalStream.EventStore;
using SignalStream.Hub.Tests.EndToEnd;
using SignalStream.Hub.Tests.Infrastructure;

namespace SignalStream.Hub.Tests.Webhooks;

/// <summary>
/// <c>POST /api/webhooks/tradingview/{source}</c> on a whole node (production composition on Kestrel, the simulated
/// market at 600x, the bundled models, the file store): what is accepted is stored, published with its seq to a SignalR
/// subscriber and resolved in the journal; what is refused gets its status and leaves nothing in the store.
/// </summary>
[Collection(EndToEndCollection.Name)]
public sealed class TradingViewWebhookTests
{
    private const string Secret = "main-source-secret-0123456789";
    private const string FloodSecret = "flood-source-secret-0123456789";
    private const string VoterSecret = "voter-source-secret-0123456789";
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(45);

    private static readonly string[] Run =
    [
        .. TestServer.SimulatedRun,
        "--Ingest:Symbols=BTCUSDT,ETHUSDT,SOLUSDT",
        "--Ingest:Timeframes=1m,5m",
        "--Signals:ExpiryCandles=3",
        "--Logging:LogLevel:Default=Warning",
        $"--Webhooks:TradingView:main:Secret={Secret}",
        "--Webhooks:TradingView:main:Burst=100",
        $"--Webhooks:TradingView:flood:Secret={FloodSecret}",
        "--Webhooks:TradingView:flood:Burst=2",
        "--Webhooks:TradingView:flood:AlertsPerMinute=0.01",
        $"--Webhooks:TradingView:voter:Secret={VoterSecret}",
        "--Webhooks:TradingView:voter:Mode=vote",
        "--Webhooks:TradingView:voter:Weight=0.5",
        "--Webhooks:TradingView:btconly:Secret=btconly-source-secret-0123456789",
        "--Webhooks:TradingView:btconly:Symbols=BTCUSDT,SOLUSDT",
    ];

    [Fact]
    public async Task AnAlertIsAcceptedStoredPublishedWithItsSeqToASubscriberAndResolvedInTheJournal()
    {
        await using var server = await TestServer.StartAsync(Run);
        await using var client = await server.ConnectAsync();
        var price = await LastCloseAsync(client, "BTCUSDT", "1m");
        var subscribed = await client.InvokeAsync("Subscribe", new { symbol = "BTCUSDT" });
        var latestSeq = subscribed.GetProperty("latestSeq").GetInt64();

        // Tight levels from the alert: the next candles reach one of them, or it expires after 3 candles (0.3 s here).
        var (status, answer) = await PostAsync(server, "main", Body(Secret, "BINANCE:BTCUSDT", "buy", price, interval: "1",
            stop: Math.Round(price * 0.999m, 2), target: Math.Round(price * 1.001m, 2), strategy: "Breakout"));
        Assert.Equal(HttpStatusCode.Accepted, status);
        var eventId = answer.GetProperty("eventId").GetGuid();
        var signalId = answer.GetProperty("signalId").GetString()!;
        var seq = answer.GetProperty("seq").GetInt64();
        Assert.True(seq > latestSeq);
        Assert.Equal(("tradingview:main", "signal", "buy", "BTCUSDT", "1m", false),
            (answer.GetProperty("source").GetString(), answer.GetProperty("mode").GetString(), answer.GetProperty("action").GetString(),
             answer.GetProperty("symbol").GetString(), answer.GetProperty("timeframe").GetString(), answer.GetProperty("duplicate").GetBoolean()));

        // 202 means stored: the alert is in the store already, not only queued for it.
        var store = server.Services.GetRequiredService<IEventStore>();
        var atOnce = await store.ReadStreamAsync(EventStreams.Alerts("BTCUSDT"), 1, 10).AsTask().WaitAsync(Wait);
        Assert.Equal(eventId, Assert.Single(atOnce).EventId);

        // Published to the subscriber with its seq, in seq order with the models' signals, then resolved.
        var (signals, outcomes) = await EngineEndToEndTests.ReadUntilAsync(client, (s, o) => o.Any(x => x.GetProperty("signalId").GetString() == signalId));
        var published = Assert.Single(signals, s => s.GetProperty("id").GetString() == signalId);
        Assert.Equal((seq, "tradingview:main", price), (published.GetProperty("seq").GetInt64(), published.GetProperty("source").GetString(), published.GetProperty("entry").GetDecimal()));
        var seqs = EngineEndToEndTests.Seqs(signals);
        Assert.Equal(EngineEndToEndTests.Range(latestSeq + 1, seqs.Length), seqs);
        var outcome = Assert.Single(outcomes, o => o.GetProperty("signalId").GetString() == signalId);
        Assert.Contains(outcome.GetProperty("outcome").GetString(), new[] { "win", "loss", "expired" });
        Assert.Equal(("tradingview:main", seq), (outcome.GetProperty("source").GetString(), outcome.GetProperty("signalSeq").GetInt64()));

        // Stored: the alert under the id the webhook answered with, the signal under its seq.
        var alerts = await StoredAlertsAsync(server, "BTCUSDT", count: 1);
        Assert.Equal(eventId, alerts[0].EventId);
        Assert.Equal(EventSerializer.TradingViewAlertType, alerts[0].Type);
        var stored = await GetJsonAsync(server, $"/api/signals?symbol=BTCUSDT&afterSeq={seq - 1}&limit=1");
        Assert.Equal((signalId, "tradingview:main"), (stored[0].GetProperty("id").GetString(), stored[0].GetProperty("source").GetString()));

        // Scored beside the models.
        var row = await WaitForRowAsync(server, "tradingview:main", isShadow: false, g => g.Wins + g.Losses + g.Expired >= 1);
        Assert.Equal(1, row.Signals);

        // Without levels, target and stop come from the stream's ATR (the simulator's history warmed it).
        (status, answer) = await PostAsync(server, "main", Body(Secret, "BTCUSDT", "sell", price, interval: "5"));
        Assert.Equal(HttpStatusCode.Accepted, status);
        Assert.True(answer.GetProperty("target").GetDecimal() < price && answer.GetProperty("stop").GetDecimal() > price);
        Assert.True(answer.GetProperty("seq").GetInt64() > seq);

        // Vote mode: accepted with its weight; its would-be signal is journaled as the source's (shadow) record.
        (status, answer) = await PostAsync(server, "voter", Body(VoterSecret, "BTCUSDT", "long", price, interval: "1"));
        Assert.Equal(HttpStatusCode.Accepted, status);
        Assert.Equal(("vote", 0.5), (answer.GetProperty("mode").GetString(), answer.GetProperty("weight").GetDouble()));
        Assert.False(answer.TryGetProperty("seq", out _));
        await WaitForRowAsync(server, "tradingview:voter", isShadow: true, g => g.Signals >= 1);
    }

    [Fact]
    public async Task RefusedRequestsGetTheirStatusAndNothingIsStored()
    {
        await using var server = await TestServer.StartAsync(Run);
        await using var client = await server.ConnectAsync();
        var price = await LastCloseAsync(client, "ETHUSDT", "1m");
        var valid = Body(Secret, "BINANCE:ETHUSDT", "buy", price, interval: "1");

        // Otherwise valid alerts: without the check that refuses each, it would be accepted and stored.
        var wrongSecret = await PostAsync(server, "main", Body("not-the-secret-0123456789", "ETHUSDT", "buy", price, interval: "1"));
        var unknownSource = await PostAsync(server, "nosuchsource", valid);
        AssertProblem(wrongSecret, HttpStatusCode.Unauthorized, "secret");
        AssertProblem(unknownSource, HttpStatusCode.Unauthorized, "secret");
        Assert.Equal(wrongSecret.Answer.GetProperty("detail").GetString(), unknownSource.Answer.GetProperty("detail").GetString()); // says nothing about which sources exist
        AssertProblem(await PostAsync(server, "main", valid.Replace($"\"secret\":\"{Secret}\",", "", StringComparison.Ordinal)), HttpStatusCode.Unauthorized, "secret");

        AssertProblem(await PostAsync(server, "main", "{\"secret\":\"" + Secret + "\", \"ticker\": "), HttpStatusCode.BadRequest, "body");
        AssertProblem(await PostAsync(server, "main", Body(Secret, "ETHUSDT", "hold", price, interval: "1")), HttpStatusCode.BadRequest, "action");
        AssertProblem(await PostAsync(server, "main", valid.Replace("\"price\":", "\"price\":\"x\",\"p\":", StringComparison.Ordinal)), HttpStatusCode.BadRequest, "price");
        AssertProblem(await PostAsync(server, "main", Body(Secret, "ETHUSDT", "buy", price, interval: "7")), HttpStatusCode.BadRequest, "interval");
        AssertProblem(await PostAsync(server, "main", Body(Secret, "ETHUSDT", "buy", price, interval: "1", stop: price * 1.01m)), HttpStatusCode.BadRequest, "stop");
        AssertProblem(await PostAsync(server, "main", Body(Secret, "ETHUSDT", "buy", price, interval: "1", target: price * 0.99m)), HttpStatusCode.BadRequest, "target");
        AssertProblem(await PostAsync(server, "main", Body(Secret, "ETHUSDT", "buy", price, interval: "1", strategy: new string('s', 200))), HttpStatusCode.BadRequest, "strategy");
        AssertProblem(await PostAsync(server, "main", Body(Secret, "COINBASE:ETHUSD", "buy", price, interval: "1")), HttpStatusCode.BadRequest, "ticker");
        AssertProblem(await PostAsync(server, "main", Body(Secret, "ETHUSDT", "buy", price)), HttpStatusCode.BadRequest, "interval"); // no default Timeframe

        // Markets this node does not serve, and a price far from the stream's last close.
        AssertProblem(await PostAsync(server, "main", Body(Secret, "DOGEUSDT", "buy", 0.1m, interval: "1")), HttpStatusCode.BadRequest, "ticker");
        AssertProblem(await PostAsync(server, "main", Body(Secret, "ETHUSDT", "buy", price, interval: "240")), HttpStatusCode.BadRequest, "interval");
        AssertProblem(await PostAsync(server, "btconly", Body("btconly-source-secret-0123456789", "ETHUSDT", "buy", price, interval: "1")), HttpStatusCode.BadRequest, "ticker");
        AssertProblem(await PostAsync(server, "main", Body(Secret, "ETHUSDT", "buy", price * 2, interval: "1")), HttpStatusCode.BadRequest, "price");

        // Oversized, with a Content-Length and chunked (no length: the bound is on the bytes read).
        var oversized = Body(Secret, "ETHUSDT", "buy", price, interval: "1", comment: new string('c', 20_000));
        AssertProblem(await PostAsync(server, "main", oversized), HttpStatusCode.RequestEntityTooLarge, null);
        AssertProblem(await PostAsync(server, "main", oversized, chunked: true), HttpStatusCode.RequestEntityTooLarge, null);

        // A flooding source (Burst 2): its third alert in a row is refused with Retry-After, whatever it holds.
        var flood = Body(FloodSecret, "ETHUSDT", "buy", price, interval: "13");
        AssertProblem(await PostAsync(server, "flood", flood), HttpStatusCode.BadRequest, "interval");
        AssertProblem(await PostAsync(server, "flood", flood), HttpStatusCode.BadRequest, "interval");
        using (var response = await SendAsync(server, "flood", flood))
        {
            Assert.Equal(HttpStatusCode.TooManyRequests, response.StatusCode);
            Assert.True(response.Headers.RetryAfter?.Delta > TimeSpan.Zero, "429 says when to retry");
        }

        // Nothing was stored: the writer keeps a symbol's events in order, so once this last (accepted) alert is
        // stored, anything a refused request had handed over would be stored before it.
        var (status, answer) = await PostAsync(server, "main", valid);
        Assert.Equal(HttpStatusCode.Accepted, status);
        var alerts = await StoredAlertsAsync(server, "ETHUSDT", count: 1);
        Assert.Equal(answer.GetProperty("eventId").GetGuid(), Assert.Single(alerts).EventId);
        var store = server.Services.GetRequiredService<IEventStore>();
        Assert.Equal(0, await store.GetStreamVersionAsync(EventStreams.Alerts("DOGEUSDT")).AsTask().WaitAsync(Wait));
        var report = await GetReportAsync(server);
        Assert.DoesNotContain(report.Groups, g => g.Model == "tradingview:flood");
        Assert.All(report.Groups.Where(g => g.Model == "tradingview:main"), g => Assert.True(g.Signals <= 1));

        var metrics = await server.ScrapeAsync();
        Assert.Contains("signalstream_webhook_alerts_total{result=\"rate_limited\",source=\"flood\"} 1", metrics);
        Assert.Contains("signalstream_webhook_alerts_total{result=\"unauthorized\",source=\"unknown\"} 1", metrics);
    }

    [Fact]
    public async Task ARetriedAlertIsAnsweredAgainAndTakenOnceEvenAfterARestart()
    {
        var data = Directory.CreateTempSubdirectory("signalstream-webhook-").FullName;
        try
        {
            string body;
            Guid eventId;
            await using (var first = await TestServer.StartOnAsync(data, Run))
            {
                await using var client = await first.ConnectAsync();
                var price = await LastCloseAsync(client, "SOLUSDT", "1m");
                body = Body(Secret, "SOLUSDT", "sell", price, interval: "1");
                var (status, answer) = await PostAsync(first, "main", body);
                Assert.Equal(HttpStatusCode.Accepted, status);
                eventId = answer.GetProperty("eventId").GetGuid();

                var retry = await PostAsync(first, "main", body);
                Assert.Equal(HttpStatusCode.Accepted, retry.Status);
                Assert.Equal((eventId, true, answer.GetProperty("seq").GetInt64()),
                    (retry.Answer.GetProperty("eventId").GetGuid(), retry.Answer.GetProperty("duplicate").GetBoolean(), retry.Answer.GetProperty("seq").GetInt64()));

                // Its own id makes an alert distinct, whatever else it repeats.
                var other = await PostAsync(first, "main", body.Replace("{", "{\"id\":\"order-2\",", StringComparison.Ordinal));
                Assert.Equal(HttpStatusCode.Accepted, other.Status);
                Assert.NotEqual(eventId, other.Answer.GetProperty("eventId").GetGuid());
                await StoredAlertsAsync(first, "SOLUSDT", count: 2);
                await first.StopAsync();
            }

            await using var second = await TestServer.StartOnAsync(data, Run);
            var again = await PostAsync(second, "main", body);
            Assert.Equal(HttpStatusCode.Accepted, again.Status);
            Assert.Equal((eventId, true), (again.Answer.GetProperty("eventId").GetGuid(), again.Answer.GetProperty("duplicate").GetBoolean()));
            Assert.Equal(2, (await StoredAlertsAsync(second, "SOLUSDT", count: 2)).Count);
        }
        finally
        {
            EngineEndToEndTests.DeleteQuietly(data);
        }
    }

    [Fact]
    public async Task TheWebhookTakesAlertsBySecretWithoutATokenUnderJwtAuth()
    {
        await using var server = await TestServer.StartAsync([.. Run, .. TestJwt.Settings.Select(s => "--" + s)]);
        await using var client = await server.ConnectAsync(TestJwt.Valid("[\"BTCUSDT\"]"));
        var price = await LastCloseAsync(client, "BTCUSDT", "1m");

        var (status, _) = await PostAsync(server, "main", Body(Secret, "BTCUSDT", "buy", price, interval: "1"));
        Assert.Equal(HttpStatusCode.Accepted, status);
        using var api = await server.Http.GetAsync(new Uri("/api/signals?symbol=BTCUSDT", UriKind.Relative)).WaitAsync(Wait);
        Assert.Equal(HttpStatusCode.Unauthorized, api.StatusCode); // the REST API still wants a token
        AssertProblem(await PostAsync(server, "main", Body("wrong-secret-0123456789", "BTCUSDT", "buy", price, interval: "1")), HttpStatusCode.Unauthorized, "secret");
    }

    internal static string Body(
        string secret, string ticker, string action, decimal price, string? interval = null, decimal? stop = null, decimal? target = null,
        string? strategy = null, string? comment = null)
    {
        var fields = new Dictionary<string, object?>
        {
            ["secret"] = secret,
            ["ticker"] = ticker,
            ["action"] = action,
            ["price"] = price,
            ["interval"] = interval,
            ["stop"] = stop,
            ["target"] = target,
            ["strategy"] = strategy,
            ["comment"] = comment,
        };
        return JsonSerializer.Serialize(fields.Where(f => f.Value is not null).ToDictionary());
    }

    private static void AssertProblem((HttpStatusCode Status, JsonElement Answer) response, HttpStatusCode status, string? field)
    {
        Assert.Equal(status, response.Status);
        Assert.Equal((int)status, response.Answer.GetProperty("status").GetInt32());
        Assert.False(string.IsNullOrEmpty(response.Answer.GetProperty("detail").GetString()));
        if (field is not null)
        {
            Assert.Equal(field, response.Answer.GetProperty("field").GetString());
        }
    }

    private static async Task<(HttpStatusCode Status, JsonElement Answer)> PostAsync(TestServer server, string source, string body, bool chunked = false)
    {
        using var response = await SendAsync(server, source, body, chunked);
        var text = await response.Content.ReadAsStringAsync().WaitAsync(Wait);
        return (response.StatusCode, JsonDocument.Parse(text).RootElement.Clone());
    }

    private static Task<HttpResponseMessage> SendAsync(TestServer server, string source, string body, bool chunked = false)
    {
        HttpContent content = chunked
            ? new ChunkedContent(Encoding.UTF8.GetBytes(body))
            : new StringContent(body, Encoding.UTF8, "text/plain"); // what TradingView sends for a JSON message
        return server.Http.PostAsync(new Uri($"/api/webhooks/tradingview/{source}", UriKind.Relative), content).WaitAsync(Wait);
    }

    /// <summary>The close of the next closed candle the node sends: a price the engine accepts as the market's.</summary>
    private static async Task<decimal> LastCloseAsync(HubTestClient client, string symbol, string timeframe)
    {
        await client.InvokeAsync("SubscribeCandles", symbol, timeframe);
        using var deadline = new CancellationTokenSource(Wait);
        while (true)
        {
            deadline.Token.ThrowIfCancellationRequested();
            var (target, candle) = await client.NextEventAsync(Wait);
            if (target == HubNames.CandleEvent && candle.GetProperty("isClosed").GetBoolean())
            {
                await client.InvokeAsync("UnsubscribeCandles", symbol, timeframe);
                return candle.GetProperty("close").GetDecimal();
            }
        }
    }

    /// <summary>Waits until the symbol's alerts stream holds at least <paramref name="count"/> events (the writer commits in the background).</summary>
    private static async Task<IReadOnlyList<StoredEvent>> StoredAlertsAsync(TestServer server, string symbol, int count)
    {
        var store = server.Services.GetRequiredService<IEventStore>();
        using var deadline = new CancellationTokenSource(Wait);
        while (true)
        {
            var events = await store.ReadStreamAsync(EventStreams.Alerts(symbol), 1, 1000, deadline.Token);
            if (events.Count >= count)
            {
                return events;
            }

            await Task.Delay(50, deadline.Token);
        }
    }

    private static async Task<List<JsonElement>> GetJsonAsync(TestServer server, string path)
    {
        using var response = await server.Http.GetAsync(new Uri(path, UriKind.Relative)).WaitAsync(Wait);
        response.EnsureSuccessStatusCode();
        return JsonDocument.Parse(await response.Content.ReadAsStringAsync().WaitAsync(Wait)).RootElement.EnumerateArray().Select(e => e.Clone()).ToList();
    }

    private static async Task<PerformanceReport> GetReportAsync(TestServer server)
    {
        using var response = await server.Http.GetAsync(new Uri("/api/performance", UriKind.Relative)).WaitAsync(Wait);
        response.EnsureSuccessStatusCode();
        return JsonSerializer.Deserialize(
            await response.Content.ReadAsStringAsync().WaitAsync(Wait), Contracts.Serialization.ContractsJsonContext.Default.PerformanceReport)!;
    }

    private static async Task<PerformanceGroup> WaitForRowAsync(TestServer server, string model, bool isShadow, Func<PerformanceGroup, bool> done)
    {
        using var deadline = new CancellationTokenSource(Wait);
        while (true)
        {
            var report = await GetReportAsync(server);
            var row = report.Groups.FirstOrDefault(g => g.Model == model && g.IsShadow == isShadow && g.Symbol == "*" && g.Timeframe == "*");
            if (row is not null && done(row))
            {
                return row;
            }

            await Task.Delay(100, deadline.Token);
        }
    }

    /// <summary>A body sent with chunked transfer encoding: no Content-Length for the server to check first.</summary>
    private sealed class ChunkedContent(byte[] bytes) : HttpContent
    {
        protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context) => stream.WriteAsync(bytes).AsTask();

        protected override bool TryComputeLength(out long length)
        {
            length = 0;
            return false;
        }
    }
}
