using System.Net;
using System.Text.Json;
using SignalStream.Contracts;
using SignalStream.Hub.Tests.Infrastructure;

namespace SignalStream.Hub.Tests.Api;

/// <summary>
/// <c>/api/candles</c>: the closed candles a client missed while away (live <c>candle</c> events are not replayed), read
/// back from the store the engine's event writer filled, a page at a time after the last openTime the client has.
/// </summary>
public sealed class CandlePagesTests
{
    private const string Symbol = "BTCUSDT";

    // Candles of the 2090s, published once the node's simulated market has started: its candles, at wall time, are then
    // all older, and the event writer skips them (started after them, the market would resume after them).
    private const long Future = 4_000_000_000_000;

    [Fact]
    public async Task ClosedCandlesArePagedAfterAnOpenTimeAcrossAHoleAndInProgressOnesAreNot()
    {
        await using var node = await TestNode.StartAsync(store: null);
        await node.WaitForSimulatedMarketAsync(Symbol, Timeframe.OneMinute);
        using var http = node.Http();
        long[] indexes = [1, 2, 3, 5, 6]; // 4 never closed: an exchange outage
        foreach (var index in indexes)
        {
            await node.PublishCandleAsync(Candle(Timeframe.OneMinute, index, closed: false));
            await node.PublishCandleAsync(Candle(Timeframe.OneMinute, index));
        }

        await node.PublishCandleAsync(Candle(Timeframe.OneMinute, 7, closed: false));
        await node.PublishCandleAsync(Candle(Timeframe.FiveMinutes, 9));
        await WaitUntilStoredAsync(http, OpenTime(6));

        Assert.Equal([OpenTime(1), OpenTime(2)], await PageAsync(http, $"afterOpenTime={OpenTime(0)}&limit=2"));
        Assert.Equal([OpenTime(3), OpenTime(5), OpenTime(6)], await PageAsync(http, $"afterOpenTime={OpenTime(2)}"));
        Assert.Equal([OpenTime(5), OpenTime(6)], await PageAsync(http, $"afterOpenTime={OpenTime(4)}"));
        Assert.Empty(await PageAsync(http, $"afterOpenTime={OpenTime(6)}"));
        Assert.Equal([OpenTime(9)], await PageAsync(http, $"timeframe=5m&afterOpenTime={OpenTime(0)}"));

        using var page = JsonDocument.Parse(await http.GetStringAsync($"/api/candles?symbol={Symbol}&timeframe=1m&afterOpenTime={OpenTime(0)}&limit=1"));
        var candle = Assert.Single(page.RootElement.EnumerateArray());
        Assert.Equal(Symbol, candle.GetProperty("symbol").GetString());
        Assert.Equal("1m", candle.GetProperty("timeframe").GetString());
        Assert.True(candle.GetProperty("isClosed").GetBoolean());
        Assert.Equal(100.5m, candle.GetProperty("close").GetDecimal());
    }

    [Fact]
    public async Task TheDotNetClientPagesTheSameClosedCandles()
    {
        await using var node = await TestNode.StartAsync(store: null);
        await node.WaitForSimulatedMarketAsync(Symbol, Timeframe.OneMinute);
        using var http = node.Http();
        for (var index = 1; index <= 5; index++)
        {
            await node.PublishCandleAsync(Candle(Timeframe.OneMinute, index));
        }

        await WaitUntilStoredAsync(http, OpenTime(5));
        var api = new SignalStream.Client.SignalStreamApi(http);

        var first = await api.GetCandlesAsync(Symbol, "1m", afterOpenTime: OpenTime(0), limit: 3);
        var rest = await api.GetCandlesAsync(Symbol, "1m", afterOpenTime: first[^1].OpenTime, limit: 3);

        Assert.Equal([OpenTime(1), OpenTime(2), OpenTime(3)], first.Select(c => c.OpenTime));
        Assert.Equal([OpenTime(4), OpenTime(5)], rest.Select(c => c.OpenTime));
        Assert.All(first.Concat(rest), c => Assert.True(c.IsClosed));
        var refused = await Assert.ThrowsAsync<SignalStream.Client.SignalStreamApiException>(() => api.GetCandlesAsync(Symbol, "1w"));
        Assert.Equal(HttpStatusCode.BadRequest, refused.Status);
    }

    [Theory]
    [InlineData("symbol=BTCUSDT", "timeframe", "timeframe is required")]
    [InlineData("symbol=BTCUSDT&timeframe=1w", "timeframe", "timeframe '1w' is not served here; served: 1m, 5m, 15m, 1h")]
    [InlineData("symbol=BTCUSDT&timeframe=2x", "timeframe", "is not a Binance interval name")]
    [InlineData("symbol=BTCUSDT&timeframe=1m&afterOpenTime=-1", "afterOpenTime", "afterOpenTime '-1' must be a whole number")]
    [InlineData("symbol=BTCUSDT&timeframe=1m&limit=1001", "limit", "limit '1001' must be a whole number from 1 to 1000")]
    [InlineData("symbol=NOPE&timeframe=1m", "symbol", "symbol 'NOPE' is not served here")]
    public async Task ABadParameterIsA400ThatNamesIt(string query, string parameter, string detail)
    {
        await using var node = await TestNode.StartAsync(store: null);
        using var http = node.Http();

        using var response = await http.GetAsync($"/api/candles?{query}");

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        using var problem = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.Equal(parameter, problem.RootElement.GetProperty("parameter").GetString());
        Assert.Contains(detail, problem.RootElement.GetProperty("detail").GetString(), StringComparison.Ordinal);
    }

    private static long OpenTime(long index) => Candle(Timeframe.OneMinute, index).Candle.OpenTime;

    private static CandleUpdate Candle(Timeframe timeframe, long index, bool closed = true)
    {
        var update = TestSignals.Candle(Symbol, timeframe, index, closed);
        return update with { Candle = update.Candle with { OpenTime = update.Candle.OpenTime + Future, CloseTime = update.Candle.CloseTime + Future } };
    }

    private static async Task<long[]> PageAsync(HttpClient http, string query)
    {
        var timeframe = query.Contains("timeframe=", StringComparison.Ordinal) ? "" : "&timeframe=1m";
        using var response = await http.GetAsync($"/api/candles?symbol={Symbol}{timeframe}&{query}");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        using var page = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        return [.. page.RootElement.EnumerateArray().Select(c => c.GetProperty("openTime").GetInt64())];
    }

    /// <summary>The event writer commits in the background: the publish returns before the store has the candle.</summary>
    private static async Task WaitUntilStoredAsync(HttpClient http, long openTime)
    {
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        while (!(await PageAsync(http, $"afterOpenTime={openTime - 1}")).Contains(openTime))
        {
            await Task.Delay(20, deadline.Token);
        }
    }
}
