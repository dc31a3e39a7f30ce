using System.Runtime.Serialization;
using System.Text.Json.Serialization;

namespace SignalStream.Contracts;

/// <summary>Which way a signal trades.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<SignalDirection>))]
public enum SignalDirection : byte
{
    [JsonStringEnumMemberName("long"), EnumMember(Value = "long")]
    Long,

    [JsonStringEnumMemberName("short"), EnumMember(Value = "short")]
    Short,
}

/// <summary>How an issued signal ended.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<OutcomeKind>))]
public enum OutcomeKind : byte
{
    /// <summary>The target was reached first.</summary>
    [JsonStringEnumMemberName("win"), EnumMember(Value = "win")]
    Win,

    /// <summary>The stop was reached first (or both inside one candle: resolved conservatively).</summary>
    [JsonStringEnumMemberName("loss"), EnumMember(Value = "loss")]
    Loss,

    /// <summary>Neither level was reached before the signal expired.</summary>
    [JsonStringEnumMemberName("expired"), EnumMember(Value = "expired")]
    Expired,
}

/// <summary>Class probabilities of a direction model: P(down), P(flat), P(up); they sum to 1.</summary>
[DataContract]
public sealed record ClassProbabilities(
    [property: DataMember(Name = "down")] double Down,
    [property: DataMember(Name = "flat")] double Flat,
    [property: DataMember(Name = "up")] double Up);

/// <summary>One model's contribution to a signal.</summary>
/// <param name="Name">Model name from its manifest, for example <c>lstm-direction</c>.</param>
/// <param name="Version">Model version from its manifest.</param>
/// <param name="Family">Model family (<c>lstm</c> or <c>patchtst</c>); the families must agree for a signal.</param>
/// <param name="Vote">The model's own direction: <c>long</c>, <c>short</c> or <c>flat</c>.</param>
/// <param name="Weight">The model's weight in the ensemble.</param>
/// <param name="Probabilities">The model's class probabilities.</param>
[DataContract]
public sealed record ModelVote(
    [property: DataMember(Name = "name")] string Name,
    [property: DataMember(Name = "version")] string Version,
    [property: DataMember(Name = "family")] string Family,
    [property: DataMember(Name = "vote")] string Vote,
    [property: DataMember(Name = "weight")] double Weight,
    [property: DataMember(Name = "probabilities")] ClassProbabilities Probabilities)
{
    /// <summary>True for a shadow model (only in shadow signals); omitted from JSON when false (MessagePack writes it).</summary>
    [DataMember(Name = "isShadow")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public bool IsShadow { get; init; }
}

/// <summary>An actionable trading signal: the server's main product, pushed to subscribers as the <c>signal</c> event.</summary>
/// <remarks>
/// <see cref="Seq"/> is per symbol, contiguous from 1 and survives restarts: a client that has seen seq N resumes with
/// <c>afterSeq = N</c> and gets exactly what it missed. All times are Unix milliseconds, UTC.
/// <para>
/// The wire names: System.Text.Json writes camelCase (<c>ContractsJsonContext</c>); the <see cref="DataMemberAttribute"/>
/// names say the same to the MessagePack hub protocol's serializer (MessagePack-CSharp reads them, System.Text.Json does
/// not), so both protocols carry the same keys (docs/hub.md, "MessagePack").
/// </para>
/// </remarks>
[DataContract]
public sealed record Signal
{
    /// <summary>Globally unique, stable id (deterministic from symbol, timeframe and candle).</summary>
    [DataMember(Name = "id")]
    public required string Id { get; init; }

    /// <summary>Per-symbol sequence number, contiguous from 1.</summary>
    [DataMember(Name = "seq")]
    public required long Seq { get; init; }

    [DataMember(Name = "symbol")]
    public required string Symbol { get; init; }

    [DataMember(Name = "timeframe")]
    public required Timeframe Timeframe { get; init; }

    [DataMember(Name = "direction")]
    public required SignalDirection Direction { get; init; }

    /// <summary>0–100: 100 × the winning side of the ensemble vote.</summary>
    [DataMember(Name = "confidence")]
    public required double Confidence { get; init; }

    /// <summary>Ensemble (weighted) class probabilities.</summary>
    [DataMember(Name = "probabilities")]
    public required ClassProbabilities Probabilities { get; init; }

    [DataMember(Name = "entry")]
    public required decimal Entry { get; init; }

    [DataMember(Name = "target")]
    public required decimal Target { get; init; }

    [DataMember(Name = "stop")]
    public required decimal Stop { get; init; }

    /// <summary>|target − entry| / |entry − stop|.</summary>
    [DataMember(Name = "riskReward")]
    public required double RiskReward { get; init; }

    /// <summary>0–100 fusion score across timeframes and model families.</summary>
    [DataMember(Name = "fusionScore")]
    public required double FusionScore { get; init; }

    [DataMember(Name = "models")]
    public required IReadOnlyList<ModelVote> Models { get; init; }

    /// <summary>Sentences a person can read, for example "LSTM and PatchTST agree long on 1h".</summary>
    [DataMember(Name = "rationale")]
    public required IReadOnlyList<string> Rationale { get; init; }

    [DataMember(Name = "candleOpenTime")]
    public required long CandleOpenTime { get; init; }

    [DataMember(Name = "candleCloseTime")]
    public required long CandleCloseTime { get; init; }

    [DataMember(Name = "createdAt")]
    public required long CreatedAt { get; init; }

    [DataMember(Name = "expiresAt")]
    public required long ExpiresAt { get; init; }

    /// <summary>Exchange event time of the candle close that produced this signal (latency start).</summary>
    [DataMember(Name = "exchangeTime")]
    public required long ExchangeTime { get; init; }

    /// <summary>When the ingestor received that candle close.</summary>
    [DataMember(Name = "receivedAt")]
    public required long ReceivedAt { get; init; }

    /// <summary>When the engine published the signal (set just before fan-out).</summary>
    [DataMember(Name = "publishedAt")]
    public long PublishedAt { get; init; }

    /// <summary>
    /// Who issued the signal: <see cref="SignalSources.Ensemble"/> for the models' own signals, or
    /// <c>tradingview:{source}</c> for an alert of a configured TradingView source. Signals stored before the field
    /// existed read as <see cref="SignalSources.Ensemble"/>.
    /// </summary>
    [DataMember(Name = "source")]
    public string Source
    {
        get => _source;

        // The source-generated reader sets every init property, with null for one the JSON lacks (a stored v1 signal).
        init => _source = value ?? SignalSources.Ensemble;
    }

    private readonly string _source = SignalSources.Ensemble;
}

/// <summary>Values of <see cref="Signal.Source"/> and <see cref="SignalOutcome.Source"/>.</summary>
public static class SignalSources
{
    /// <summary>The models' ensemble: every signal the engine decides from predictions.</summary>
    public const string Ensemble = "ensemble";

    /// <summary>Prefix of a TradingView webhook source: <c>tradingview:{name}</c>.</summary>
    public const string TradingViewPrefix = "tradingview:";

    /// <summary>The model family of a TradingView alert's entry in <see cref="Signal.Models"/>.</summary>
    public const string TradingViewFamily = "tradingview";

    /// <summary>The source name of the TradingView webhook source <paramref name="name"/>.</summary>
    public static string TradingView(string name) => TradingViewPrefix + name;

    /// <summary>True for the models' own signals (and for anything stored before sources existed).</summary>
    public static bool IsEnsemble(string? source) => source is null || string.Equals(source, Ensemble, StringComparison.Ordinal);
}

/// <summary>How a signal resolved: pushed to subscribers as the <c>signalResolved</c> event.</summary>
/// <remarks>
/// <see cref="OutcomeSeq"/> is per symbol, contiguous from 1 and survives restarts, like <see cref="Signal.Seq"/>: a client
/// that has seen outcomeSeq N resumes with <c>afterOutcomeSeq = N</c> and gets the outcomes it missed.
/// </remarks>
[DataContract]
public sealed record SignalOutcome
{
    [DataMember(Name = "signalId")]
    public required string SignalId { get; init; }

    /// <summary>
    /// Per-symbol position of the outcome, its version in the symbol's outcomes stream: contiguous from 1 over the
    /// published outcomes. 0 for a shadow outcome (never published) and for one not numbered yet (the signal stage
    /// numbers it as it hands it over). Stored outcomes from before the field existed read with their stream version.
    /// </summary>
    [DataMember(Name = "outcomeSeq")]
    public long OutcomeSeq { get; init; }

    /// <summary>The resolved signal's <see cref="Signal.Seq"/>.</summary>
    [DataMember(Name = "signalSeq")]
    public required long SignalSeq { get; init; }

    [DataMember(Name = "symbol")]
    public required string Symbol { get; init; }

    [DataMember(Name = "timeframe")]
    public required Timeframe Timeframe { get; init; }

    [DataMember(Name = "direction")]
    public required SignalDirection Direction { get; init; }

    [DataMember(Name = "outcome")]
    public required OutcomeKind Outcome { get; init; }

    [DataMember(Name = "entry")]
    public required decimal Entry { get; init; }

    /// <summary>The price the outcome is scored at: target, stop, or the last close for an expiry.</summary>
    [DataMember(Name = "exitPrice")]
    public required decimal ExitPrice { get; init; }

    /// <summary>Result in units of initial risk (R): +reward/risk for a win, −1 for a loss.</summary>
    [DataMember(Name = "rMultiple")]
    public required double RMultiple { get; init; }

    /// <summary>Open time of the candle that resolved the signal.</summary>
    [DataMember(Name = "resolvedCandleOpenTime")]
    public required long ResolvedCandleOpenTime { get; init; }

    [DataMember(Name = "resolvedAt")]
    public required long ResolvedAt { get; init; }

    /// <summary>Why, in words (for example "target and stop both inside the 14:05 candle; resolved as loss").</summary>
    [DataMember(Name = "reason")]
    public required string Reason { get; init; }

    /// <summary>The models behind the signal, for per-model statistics.</summary>
    [DataMember(Name = "models")]
    public required IReadOnlyList<ModelVote> Models { get; init; }

    /// <summary>True for a shadow model's would-be signal: journaled and scored, never published.</summary>
    [DataMember(Name = "isShadow")]
    public bool IsShadow { get; init; }

    /// <summary>The resolved signal's <see cref="Signal.Source"/>, so statistics per source need the outcomes only.</summary>
    [DataMember(Name = "source")]
    public string Source
    {
        get => _source;

        // As Signal.Source: a stored outcome from before sources existed reads as the ensemble's.
        init => _source = value ?? SignalSources.Ensemble;
    }

    private readonly string _source = SignalSources.Ensemble;
}
