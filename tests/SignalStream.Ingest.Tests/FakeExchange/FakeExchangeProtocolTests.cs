using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using SignalStream.Testing.FakeExchange;

namespace SignalStream.Ingest.Tests.FakeExchange;

/// <summary>The fake must enforce what Binance enforces, or the client tests that rely on it prove nothing.</summary>
public sealed class FakeExchangeProtocolTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(20);

    [Fact]
    public async Task AClientThatSendsABurstIsDisconnectedAndTheViolationRecorded()
    {
        await using var fake = new FakeBinanceExchange();
        await fake.StartAsync().WaitAsync(Timeout);
        using var socket = new ClientWebSocket();
        await socket.ConnectAsync(new Uri(fake.StreamUrl + "/stream?streams=btcusdt@kline_1m"), CancellationToken.None).WaitAsync(Timeout);
        try
        {
            for (var i = 1; i <= 10; i++)
            {
                await socket.SendAsync(Encoding.UTF8.GetBytes($$"""{"method":"LIST_SUBSCRIPTIONS","id":{{i}}}"""), WebSocketMessageType.Text, true,
                    CancellationToken.None).WaitAsync(Timeout);
            }
        }
        catch (WebSocketException)
        {
            // The fake may already have cut the connection.
        }

        await fake.WaitUntilAsync(f => f.Violations.Count > 0, Timeout, "the burst to be flagged");
        Assert.Contains("more than 5 messages in one second", fake.Violations[0], StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("""{"method":"SUBSCRIBE","params":["ethusdt@kline_1m"],"id":1}""", """{"result":null,"id":1}""")]
    [InlineData("""{"method":"LIST_SUBSCRIPTIONS","id":"a1"}""", """{"result":["btcusdt@kline_1m"],"id":"a1"}""")]
    [InlineData("""{"method":"GET_PROPERTY","params":["combined"],"id":2}""", """{"result":true,"id":2}""")]
    [InlineData("""{"method":"SET_PROPERTY","params":["nope",true],"id":5}""", """{"code":0,"msg":"Unknown property","id":5}""")]
    [InlineData("""{"method":"SET_PROPERTY","params":["combined",1],"id":5}""", """{"code":1,"msg":"Invalid value type: expected Boolean"}""")]
    [InlineData("""{"method":"SUBSCRIBE","params":[],"id":1.5}""", """{"code":2,"msg":"Invalid request: request ID must be an unsigned integer"}""")]
    [InlineData("""{"method":"PING","id":1}""", """{"code":2,"msg":"Invalid request: unknown variant PING, expected one of `SUBSCRIBE`, `UNSUBSCRIBE`, `LIST_SUBSCRIPTIONS`, `SET_PROPERTY`, `GET_PROPERTY` at line 1 column 28"}""")]
    [InlineData("""{"method":""", """{"code":3,"msg":"Invalid JSON: expected value at line 1 column 11"}""")]
    public async Task ControlMessagesGetTheDocumentedReplies(string request, string reply)
    {
        await using var fake = new FakeBinanceExchange();
        await fake.StartAsync().WaitAsync(Timeout);
        using var socket = new ClientWebSocket();
        await socket.ConnectAsync(new Uri(fake.StreamUrl + "/stream?streams=btcusdt@kline_1m"), CancellationToken.None).WaitAsync(Timeout);
        await socket.SendAsync(Encoding.UTF8.GetBytes(request), WebSocketMessageType.Text, true, CancellationToken.None).WaitAsync(Timeout);
        var buffer = new byte[4096];
        var result = await socket.ReceiveAsync(buffer, CancellationToken.None).WaitAsync(Timeout);
        var actual = JsonDocument.Parse(buffer.AsMemory(0, result.Count)).RootElement;
        var expected = JsonDocument.Parse(reply).RootElement;
        Assert.Equal(expected.ToString(), actual.ToString());
    }
}
