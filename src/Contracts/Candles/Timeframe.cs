using System.Runtime.Serialization;

namespace SignalStream.Contracts;

/// <summary>A candle interval, named on the wire by Binance's interval names (<c>1s</c> … <c>1M</c>).</summary>
/// <remarks>
/// Serialized as its Binance name; see <see cref="Timeframes"/> for parsing and durations. The JSON converter writes
/// it; the <see cref="EnumMemberAttribute"/> names are the same for the MessagePack hub protocol, whose serializer
/// (MessagePack-CSharp) reads them.
/// </remarks>
[System.Text.Json.Serialization.JsonConverter(typeof(Serialization.TimeframeJsonConverter))]
public enum Timeframe : byte
{
    [EnumMember(Value = "1s")]
    OneSecond,

    [EnumMember(Value = "1m")]
    OneMinute,

    [EnumMember(Value = "3m")]
    ThreeMinutes,

    [EnumMember(Value = "5m")]
    FiveMinutes,

    [EnumMember(Value = "15m")]
    FifteenMinutes,

    [EnumMember(Value = "30m")]
    ThirtyMinutes,

    [EnumMember(Value = "1h")]
    OneHour,

    [EnumMember(Value = "2h")]
    TwoHours,

    [EnumMember(Value = "4h")]
    FourHours,

    [EnumMember(Value = "6h")]
    SixHours,

    [EnumMember(Value = "8h")]
    EightHours,

    [EnumMember(Value = "12h")]
    TwelveHours,

    [EnumMember(Value = "1d")]
    OneDay,

    [EnumMember(Value = "3d")]
    ThreeDays,

    [EnumMember(Value = "1w")]
    OneWeek,

    [EnumMember(Value = "1M")]
    OneMonth,
}
