using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using SignalStream.Engine.Journal;
using SignalStream.Hub.Tests.Infrastructure;

namespace SignalStream.Hub.Tests.Hostile;

/// <summary>
/// A token entitled to BTCUSDT alone, against every endpoint that can name a symbol. Before: <c>/api/performance</c>
/// returned every symbol's statistics (and the all-symbol roll-ups) to it. Now every REST endpoint and every hub method
/// shows it BTCUSDT and nothing else; an unrestricted token still sees everything.
/// </summary>
public sealed class EntitlementLeakTests : IAsyncLifetime
{
    private static readonly string[] Others = ["ETHUSDT", "BNBUSDT", "SOLUSDT", "XRPUSDT"];

    private readonly InMemorySignalHistory _store = new();
    private TestNode _node = null!;

    public async Task InitializeAsync()
    {
        _node = await TestNode.StartAsync(_store, settings: TestJwt.Settings);
        var journal = _node.App.Services.GetRequiredService<SignalJournal>();
        foreach (var symbol in (string[])["BTCUSDT", .. Others])
        {
            var signal = TestSignals.Signal(symbol, 1);
            await _node.PublishAsync(signal);
            journal.Track(signal, isShadow: false);
            journal.Apply(TestSignals.Outcome(signal));
        }
    }

    public async Task DisposeAsync() => await _node.DisposeAsync();

    [Fact]
    public async Task EveryRestEndpointShowsAOneSymbolTokenOnlyItsSymbol()
    {
        using var http = Client("[\"BTCUSDT\"]");

        var symbols = await GetJsonAsync(http, "/api/symbols");
        Assert.Equal(["BTCUSDT"], symbols.EnumerateArray().Select(e => e.GetProperty("symbol").GetString()));

        var performance = await GetJsonAsync(http, "/api/performance");
        var rows = performance.GetProperty("groups").EnumerateArray().Select(g => g.GetProperty("symbol").GetString()).ToList();
        Assert.NotEmpty(rows);
        Assert.All(rows, symbol => Assert.Equal("BTCUSDT", symbol));

        // Models are symbol-agnostic (name, version, timeframes, holdout metrics): nothing of another symbol to filter.
        var models = (await GetJsonAsync(http, "/api/models")).GetRawText();
        Assert.All(Others, other => Assert.DoesNotContain(other, models, StringComparison.Ordinal));

        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("/api/signals?symbol=BTCUSDT")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("/api/signals/latest?symbol=BTCUSDT")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("/api/outcomes?symbol=BTCUSDT")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("/api/candles?symbol=BTCUSDT&timeframe=1m")).StatusCode);
        foreach (var other in Others)
        {
            foreach (var path in new[] { $"/api/signals?symbol={other}", $"/api/signals/latest?symbol={other}", $"/api/signals?symbol={other.ToLowerInvariant()}&afterSeq=0", $"/api/outcomes?symbol={other}", $"/api/candles?symbol={other}&timeframe=1m" })
            {
                using var response = await http.GetAsync(path);
                Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
                Assert.Contains("does not entitle you to", await response.Content.ReadAsStringAsync());
            }
        }
    }

    [Fact]
    public async Task EveryHubMethodRefusesAOneSymbolTokenAnyOtherSymbol()
    {
        await using var client = await HubTestClient.ConnectAsync(_node.BaseAddress, TestJwt.Valid("[\"BTCUSDT\"]"));
        await client.InvokeAsync("Subscribe", new { symbol = "BTCUSDT" });
        await client.InvokeAsync("SubscribeCandles", "BTCUSDT", "1m");
        foreach (var other in Others)
        {
            var subscribe = await Assert.ThrowsAsync<HubErrorException>(() => client.InvokeAsync("Subscribe", new { symbol = other.ToLowerInvariant(), afterSeq = 0 }));
            Assert.Contains($"does not entitle you to {other}", subscribe.Message);
            var candles = await Assert.ThrowsAsync<HubErrorException>(() => client.InvokeAsync("SubscribeCandles", other, "1m"));
            Assert.Contains($"does not entitle you to {other}", candles.Message);
        }
    }

    [Fact]
    public async Task AnUnrestrictedTokenSeesEverySymbolAndTheRollUps()
    {
        using var http = Client("\"*\"");
        var performance = await GetJsonAsync(http, "/api/performance");
        var rows = performance.GetProperty("groups").EnumerateArray().Select(g => g.GetProperty("symbol").GetString()).ToHashSet();
        Assert.Superset(new HashSet<string?>(["BTCUSDT", .. Others, "*"]), rows);
        Assert.Equal(5, (await GetJsonAsync(http, "/api/symbols")).GetArrayLength());
    }

    private HttpClient Client(string symbols)
    {
        var http = _node.Http();
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", TestJwt.Valid(symbols));
        return http;
    }

    private static async Task<JsonElement> GetJsonAsync(HttpClient http, string path)
    {
        using var response = await http.GetAsync(path);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        using var document = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        return document.RootElement.Clone();
    }
}
