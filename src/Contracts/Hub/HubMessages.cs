using System.Runtime.Serialization;

namespace SignalStream.Contracts;

/// <summary>Argument of the hub's <c>Subscribe</c> method.</summary>
/// <param name="Symbol">Symbol, for example <c>BTCUSDT</c> (case-insensitive on input).</param>
/// <param name="Timeframes">Binance interval names to receive; null or empty for all configured.</param>
/// <param name="MinConfidence">Only signals with at least this confidence (0–100).</param>
/// <param name="AfterSeq">Resume point: the last seq the client has seen for this symbol.</param>
/// <param name="AfterOutcomeSeq">
/// Resume point of the outcomes: the last <see cref="SignalOutcome.OutcomeSeq"/> the client has seen for this symbol (or
/// the <c>latestOutcomeSeq</c> of its last Subscribe when it saw none since). Absent: no outcome is recovered.
/// </param>
[DataContract]
public sealed record SubscribeRequest(
    [property: DataMember(Name = "symbol")] string Symbol,
    [property: DataMember(Name = "timeframes")] IReadOnlyList<string>? Timeframes = null,
    [property: DataMember(Name = "minConfidence")] double? MinConfidence = null,
    [property: DataMember(Name = "afterSeq")] long? AfterSeq = null,
    [property: DataMember(Name = "afterOutcomeSeq")] long? AfterOutcomeSeq = null);

/// <summary>Result of <c>Subscribe</c>.</summary>
/// <param name="Symbol">The normalized symbol.</param>
/// <param name="Timeframes">The timeframes the subscription covers.</param>
/// <param name="LatestSeq">The newest seq for the symbol at the moment the subscription joined the live stream.</param>
/// <param name="Recovered">
/// True when <paramref name="Signals"/> holds every signal after <c>afterSeq</c> and, when <c>afterOutcomeSeq</c> was
/// given, <see cref="Outcomes"/> every outcome after it: <see cref="SignalsRecovered"/> and <see cref="OutcomesRecovered"/>
/// together, kept for clients that predate them.
/// </param>
/// <param name="Signals">Signals after <c>afterSeq</c> (or the latest per timeframe when absent), oldest first.</param>
/// <param name="Reason">Why recovery was incomplete, when <paramref name="Recovered"/> is false.</param>
[DataContract]
public sealed record SubscribeResult(
    [property: DataMember(Name = "symbol")] string Symbol,
    [property: DataMember(Name = "timeframes")] IReadOnlyList<string> Timeframes,
    [property: DataMember(Name = "latestSeq")] long LatestSeq,
    [property: DataMember(Name = "recovered")] bool Recovered,
    [property: DataMember(Name = "signals")] IReadOnlyList<Signal> Signals,
    [property: DataMember(Name = "reason")] string? Reason = null)
{
    /// <summary>
    /// The newest outcomeSeq for the symbol when the subscription joined the live stream: live outcomes follow from the
    /// next one. A client that sees no outcome before it reconnects resumes with this as <c>afterOutcomeSeq</c>.
    /// </summary>
    [DataMember(Name = "latestOutcomeSeq")]
    public long LatestOutcomeSeq { get; init; }

    /// <summary>Outcomes after <c>afterOutcomeSeq</c>, oldest first; empty when it was not given.</summary>
    [DataMember(Name = "outcomes")]
    public IReadOnlyList<SignalOutcome> Outcomes { get; init; } = [];

    /// <summary>
    /// True when <see cref="Signals"/> holds every signal after <c>afterSeq</c>. Apart from <see cref="OutcomesRecovered"/>
    /// so that a client whose outcomes could not all be recovered does not also ask for its signals again.
    /// </summary>
    [DataMember(Name = "signalsRecovered")]
    public bool SignalsRecovered { get; init; } = true;

    /// <summary>
    /// True when <see cref="Outcomes"/> holds every outcome after <c>afterOutcomeSeq</c> (always true without it). The
    /// returned outcomes are filtered like live ones, so a client cannot see from their outcomeSeqs whether one is missing:
    /// this says it.
    /// </summary>
    [DataMember(Name = "outcomesRecovered")]
    public bool OutcomesRecovered { get; init; } = true;
}

/// <summary>The <c>candle</c> hub event: a candle update of a subscribed stream.</summary>
[DataContract]
public sealed record CandleMessage(
    [property: DataMember(Name = "symbol")] string Symbol,
    [property: DataMember(Name = "timeframe")] Timeframe Timeframe,
    [property: DataMember(Name = "openTime")] long OpenTime,
    [property: DataMember(Name = "closeTime")] long CloseTime,
    [property: DataMember(Name = "open")] decimal Open,
    [property: DataMember(Name = "high")] decimal High,
    [property: DataMember(Name = "low")] decimal Low,
    [property: DataMember(Name = "close")] decimal Close,
    [property: DataMember(Name = "volume")] decimal Volume,
    [property: DataMember(Name = "isClosed")] bool IsClosed)
{
    /// <summary>Projects a candle update onto the hub message.</summary>
    public static CandleMessage From(in CandleUpdate update) => new(
        update.Candle.Symbol,
        update.Candle.Timeframe,
        update.Candle.OpenTime,
        update.Candle.CloseTime,
        update.Candle.Open,
        update.Candle.High,
        update.Candle.Low,
        update.Candle.Close,
        update.Candle.Volume,
        update.IsClosed);
}

/// <summary>Hub method and event names: the wire contract shared with the TypeScript SDK.</summary>
public static class HubNames
{
    public const string Path = "/hubs/signals";
    public const string Subscribe = "Subscribe";
    public const string Unsubscribe = "Unsubscribe";
    public const string SubscribeCandles = "SubscribeCandles";
    public const string UnsubscribeCandles = "UnsubscribeCandles";
    public const string SignalEvent = "signal";
    public const string SignalResolvedEvent = "signalResolved";
    public const string CandleEvent = "candle";
}
