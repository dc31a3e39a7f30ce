namespace SignalStream.Contracts;

/// <summary>A candle interval, named on the wire by Binance's interval names (<c>1s</c> … <c>1M</c>).</summary>
/// <remarks>Serialized as its Binance name; see <see cref="Timeframes"/> for parsing and durations.</remarks>
[System.Text.Json.Serialization.JsonConverter(typeof(Serialization.TimeframeJsonConverter))]
public enum Timeframe : byte
{
    OneSecond,
    OneMinute,
    ThreeMinutes,
    FiveMinutes,
    FifteenMinutes,
    ThirtyMinutes,
    OneHour,
    TwoHours,
    FourHours,
    SixHours,
    EightHours,
    TwelveHours,
    OneDay,
    ThreeDays,
    OneWeek,
    OneMonth,
}
