using System.Text;
using SignalStream.Contracts;
using SignalStream.Engine.Signals;
using SignalStream.Hub.Webhooks.Internal;

namespace SignalStream.Hub.Tests.Webhooks;

public class AlertBodyTests
{
    private const string Valid = """{"secret":"s","ticker":"BINANCE:BTCUSDT","action":"buy","price":65000.5,"interval":"15","stop":64000,"target":"67000","strategy":"RSI dip","comment":"oversold","id":"a-1"}""";

    public static TheoryData<string, string> BadFields => new()
    {
        { """{"action":"buy","price":1}""", "ticker" },
        { """{"ticker":42,"action":"buy","price":1}""", "ticker" },
        { """{"ticker":"COINBASE:BTCUSD","action":"buy","price":1}""", "ticker" },
        { """{"ticker":"BINANCE:BTCUSDT.P","action":"buy","price":1}""", "ticker" },
        { """{"ticker":"BTC-USDT","action":"buy","price":1}""", "ticker" },
        { "{\"ticker\":\"" + new string('A', 65) + "\",\"action\":\"buy\",\"price\":1}", "ticker" },
        { """{"ticker":"BTCUSDT","price":1}""", "action" },
        { """{"ticker":"BTCUSDT","action":"hold","price":1}""", "action" },
        { """{"ticker":"BTCUSDT","action":1,"price":1}""", "action" },
        { """{"ticker":"BTCUSDT","action":"buy"}""", "price" },
        { """{"ticker":"BTCUSDT","action":"buy","price":"abc"}""", "price" },
        { """{"ticker":"BTCUSDT","action":"buy","price":-1}""", "price" },
        { """{"ticker":"BTCUSDT","action":"buy","price":0}""", "price" },
        { """{"ticker":"BTCUSDT","action":"buy","price":{"v":1}}""", "price" },
        { """{"ticker":"BTCUSDT","action":"buy","price":1e400}""", "price" },
        { """{"ticker":"BTCUSDT","action":"buy","price":1,"interval":"7"}""", "interval" },
        { """{"ticker":"BTCUSDT","action":"buy","price":1,"interval":true}""", "interval" },
        { """{"ticker":"BTCUSDT","action":"buy","price":1,"stop":"low"}""", "stop" },
        { """{"ticker":"BTCUSDT","action":"buy","price":1,"stop":-5}""", "stop" },
        { """{"ticker":"BTCUSDT","action":"buy","price":1,"target":[1]}""", "target" },
        { "{\"ticker\":\"BTCUSDT\",\"action\":\"buy\",\"price\":1,\"strategy\":\"" + new string('s', 129) + "\"}", "strategy" },
        { """{"ticker":"BTCUSDT","action":"buy","price":1,"strategy":5}""", "strategy" },
        { """{"ticker":"BTCUSDT","action":"buy","price":1,"strategy":"a\u0007b"}""", "strategy" },
        { "{\"ticker\":\"BTCUSDT\",\"action\":\"buy\",\"price\":1,\"comment\":\"" + new string('c', 513) + "\"}", "comment" },
        { "{\"ticker\":\"BTCUSDT\",\"action\":\"buy\",\"price\":1,\"id\":\"" + new string('i', 129) + "\"}", "id" },
        { """{"ticker":"BTCUSDT","action":"buy","price":1,"price":2}""", "price" },
    };

    [Theory]
    [MemberData(nameof(BadFields))]
    public void EachBadFieldIsNamed(string json, string field)
    {
        Assert.True(AlertBody.TryRead(Encoding.UTF8.GetBytes(json), out var body, out _));
        Assert.False(body!.TryValidate(out _, out var problem));
        Assert.Equal(field, problem!.Field);
        Assert.Contains(field, problem.Detail, StringComparison.OrdinalIgnoreCase);
    }

    [Theory]
    [InlineData("")]
    [InlineData("buy BTCUSDT")]
    [InlineData("[1,2]")]
    [InlineData("\"text\"")]
    [InlineData("{\"ticker\":\"BTCUSDT\"")]
    [InlineData("{} {}")]
    [InlineData("{\"a\":[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]}")]
    public void ABodyThatIsNotOneJsonObjectIsRefusedBeforeAnyField(string text)
    {
        Assert.False(AlertBody.TryRead(Encoding.UTF8.GetBytes(text), out var body, out var problem));
        Assert.Null(body);
        Assert.StartsWith("the body", problem);
    }

    [Theory]
    [InlineData("{\"ticker\":n")]
    [InlineData("{\"ticker\":\"BTCUSDT\",\"action\":tru")]
    public void AMisspeltLiteralIsNamedWithoutQuotingTheRestOfTheBodyBack(string start)
    {
        var text = start + new string('[', 16_000);

        Assert.False(AlertBody.TryRead(Encoding.UTF8.GetBytes(text), out _, out var problem));

        Assert.Contains("invalid JSON literal", problem, StringComparison.Ordinal);
        Assert.True(problem!.Length < 300, $"the problem quotes {problem.Length} characters of a {text.Length}-byte body");
    }

    [Fact]
    public void AValidBodyGivesEveryFieldAndTheSecretOnlyWhenItIsAString()
    {
        Assert.True(AlertBody.TryRead(Encoding.UTF8.GetBytes(Valid), out var body, out _));
        Assert.Equal("s", body!.Secret);
        Assert.True(body.TryValidate(out var fields, out _));
        Assert.Equal(
            new AlertFields("BINANCE:BTCUSDT", "BTCUSDT", AlertAction.Long, "buy", 65000.5m, "15", Timeframe.FifteenMinutes, 64000m, 67000m, "RSI dip", "oversold", "a-1", null),
            fields);

        Assert.True(AlertBody.TryRead("""{"secret":123,"ticker":"btcusdt","action":"EXIT","price":"0.51","stop":null,"extra":{"rsi":25}}"""u8, out body, out _));
        Assert.Null(body!.Secret);
        Assert.True(body.TryValidate(out fields, out _));
        Assert.Equal(("BTCUSDT", AlertAction.Exit, "exit", 0.51m, null, null), (fields!.Symbol, fields.Action, fields.RawAction, fields.Price, fields.Stop, fields.Timeframe));
    }

    [Theory]
    [InlineData("1", "1m")]
    [InlineData("5", "5m")]
    [InlineData("15", "15m")]
    [InlineData("60", "1h")]
    [InlineData("240", "4h")]
    [InlineData("D", "1d")]
    [InlineData("1D", "1d")]
    [InlineData("W", "1w")]
    [InlineData("M", "1M")]
    [InlineData("4h", "4h")]
    public void TradingViewIntervalsMapToBinanceTimeframes(string interval, string timeframe)
    {
        Assert.True(AlertBody.TryMapInterval(interval, out var mapped));
        Assert.Equal(timeframe, mapped.ToName());
    }

    [Fact]
    public void ANumericIntervalIsTakenLikeAString()
    {
        Assert.True(AlertBody.TryRead("""{"ticker":"BTCUSDT","action":"sell","price":2,"interval":240}"""u8, out var body, out _));
        Assert.True(body!.TryValidate(out var fields, out _));
        Assert.Equal((Timeframe.FourHours, "240", AlertAction.Short), (fields!.Timeframe, fields.Interval, fields.Action));
    }
}
