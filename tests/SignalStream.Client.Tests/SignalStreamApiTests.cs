using System.Net;
using System.Text;
using SignalStream.Contracts;

namespace SignalStream.Client.Tests;

public sealed class SignalStreamApiTests
{
    [Fact]
    public async Task ACandlePageIsAskedForAfterAnOpenTimeWithTheTokenAndReadAsClosedCandleMessages()
    {
        using var handler = new RecordingHandler(HttpStatusCode.OK,
            """[{"symbol":"BTCUSDT","timeframe":"1m","openTime":120000,"closeTime":179999,"open":1,"high":2,"low":0.5,"close":1.5,"volume":3,"isClosed":true}]""");
        using var http = new HttpClient(handler) { BaseAddress = new Uri("http://host:5080/") };
        var api = new SignalStreamApi(http, () => Task.FromResult<string?>("t0k"));

        var page = await api.GetCandlesAsync("BTCUSDT", "1m", afterOpenTime: 60_000, limit: 500).WaitAsync(TimeSpan.FromSeconds(10));

        var request = Assert.Single(handler.Requests);
        Assert.Equal("http://host:5080/api/candles?symbol=BTCUSDT&timeframe=1m&afterOpenTime=60000&limit=500", request.Uri);
        Assert.Equal("Bearer t0k", request.Authorization);
        var candle = Assert.Single(page);
        Assert.Equal((Timeframe.OneMinute, 120_000L, 1.5m, true), (candle.Timeframe, candle.OpenTime, candle.Close, candle.IsClosed));
    }

    [Fact]
    public async Task SignalAndOutcomePagesAreAskedForAfterTheirSeqsAndReadAsContracts()
    {
        using var handler = new RecordingHandler(HttpStatusCode.OK, "[]");
        using var http = new HttpClient(handler) { BaseAddress = new Uri("http://host:5080/signalstream/") };
        var api = new SignalStreamApi(http);

        Assert.Empty(await api.GetSignalsAsync("ETHUSDT", afterSeq: 7, limit: 2).WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.Empty(await api.GetOutcomesAsync("BTCUSDT", afterOutcomeSeq: 3).WaitAsync(TimeSpan.FromSeconds(10)));

        Assert.Equal(
            ["http://host:5080/signalstream/api/signals?symbol=ETHUSDT&afterSeq=7&limit=2", "http://host:5080/signalstream/api/outcomes?symbol=BTCUSDT&afterOutcomeSeq=3&limit=100"],
            handler.Requests.Select(r => r.Uri));
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => api.GetSignalsAsync("BTCUSDT", afterSeq: -1));
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => api.GetOutcomesAsync("BTCUSDT", limit: 0));
        await Assert.ThrowsAsync<ArgumentException>(() => api.GetOutcomesAsync(""));
        Assert.Equal(2, handler.Requests.Count);
    }

    [Fact]
    public async Task AnErrorAnswerThrowsWithTheStatusAndTheProblemsDetail()
    {
        using var handler = new RecordingHandler(HttpStatusCode.BadRequest,
            """{"title":"Invalid parameter 'timeframe'","status":400,"detail":"timeframe '1w' is not served here; served: 1m, 5m.","parameter":"timeframe"}""");
        using var http = new HttpClient(handler) { BaseAddress = new Uri("http://host:5080") };
        var api = new SignalStreamApi(http);

        var error = await Assert.ThrowsAsync<SignalStreamApiException>(() => api.GetCandlesAsync("BTCUSDT", "1w")).WaitAsync(TimeSpan.FromSeconds(10));

        Assert.Equal(HttpStatusCode.BadRequest, error.Status);
        Assert.Equal("GET /api/candles?symbol=BTCUSDT&timeframe=1w&afterOpenTime=0&limit=100 failed with 400: timeframe '1w' is not served here; served: 1m, 5m.", error.Message);
        Assert.Null(Assert.Single(handler.Requests).Authorization);
    }

    [Fact]
    public async Task BadArgumentsAreRefusedBeforeAnyRequest()
    {
        using var handler = new RecordingHandler(HttpStatusCode.OK, "[]");
        using var http = new HttpClient(handler) { BaseAddress = new Uri("http://host:5080") };
        var api = new SignalStreamApi(http);

        await Assert.ThrowsAsync<ArgumentException>(() => api.GetCandlesAsync("BTCUSDT", "2x"));
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => api.GetCandlesAsync("BTCUSDT", "1m", afterOpenTime: -1));
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => api.GetCandlesAsync("BTCUSDT", "1m", limit: 1001));
        await Assert.ThrowsAsync<ArgumentException>(() => api.GetCandlesAsync(" ", "1m"));
        Assert.Empty(handler.Requests);
        using var relative = new HttpClient(handler);
        Assert.Throws<ArgumentException>(() => new SignalStreamApi(relative));
    }

    private sealed class RecordingHandler(HttpStatusCode status, string body) : HttpMessageHandler
    {
        public List<(string Uri, string? Authorization)> Requests { get; } = [];

        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            Requests.Add((request.RequestUri!.ToString(), request.Headers.Authorization?.ToString()));
            return Task.FromResult(new HttpResponseMessage(status) { Content = new StringContent(body, Encoding.UTF8, "application/json") });
        }
    }
}
