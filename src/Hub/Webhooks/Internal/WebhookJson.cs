using System.Text.Json.Serialization;

namespace SignalStream.Hub.Webhooks.Internal;

/// <summary>The 202 answer to an accepted alert (the same, with <c>duplicate: true</c>, to a retry of it).</summary>
internal sealed record AlertAnswer(Guid EventId, string Source, string Mode, string Action, string Symbol, string Timeframe)
{
    /// <summary>Signal mode: the published signal; vote mode: the journaled would-be signal.</summary>
    public string? SignalId { get; init; }

    /// <summary>Signal mode: the signal's seq (absent in an answer rebuilt after a restart: read it by id).</summary>
    public long? Seq { get; init; }

    public decimal? Target { get; init; }

    public decimal? Stop { get; init; }

    /// <summary>Vote mode: the weight the vote carries.</summary>
    public double? Weight { get; init; }

    /// <summary>Vote mode: the market time (candle close, Unix ms) after which the vote no longer counts.</summary>
    public long? VoteExpiresAt { get; init; }

    /// <summary><c>exit</c>: open signals of the source that close on the stream's next candle.</summary>
    public int? Closing { get; init; }

    /// <summary>True when this answers a retry of an alert already accepted: nothing was taken twice.</summary>
    public bool Duplicate { get; init; }
}

[JsonSourceGenerationOptions(System.Text.Json.JsonSerializerDefaults.Web, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(AlertAnswer))]
internal sealed partial class WebhookJsonContext : JsonSerializerContext;
