using System.Diagnostics.CodeAnalysis;
using System.Text.Json;
using System.Text.Json.Serialization;
using SignalStream.EventStore;

namespace SignalStream.Hub.Notifications.Internal;

/// <summary>
/// What a sink writes to the store about its deliveries: a notification delivered, an attempt that failed (and when
/// the next is due), a dead letter, or just how far it has got. Every record carries the sink's progress at the time
/// it was written, so the newest record of a stream says where to resume (docs/notifications.md, "Durability").
/// </summary>
/// <param name="Kind">The record's event type (see <see cref="NotificationRecords"/>).</param>
/// <param name="SignalsSettled">Every version of the symbol's signals stream up to this one is done for the sink.</param>
/// <param name="OutcomesSettled">The same for the symbol's outcomes stream.</param>
/// <param name="SignalsRead">The highest version of the signals stream read when this was written: no record up to this
/// one concerns a later version (what bounds the restart scan).</param>
/// <param name="OutcomesRead">The same for the outcomes stream.</param>
/// <param name="At">Unix ms.</param>
internal sealed record NotificationRecord(
    string Kind,
    string Sink,
    string Symbol,
    long SignalsSettled,
    long OutcomesSettled,
    long SignalsRead,
    long OutcomesRead,
    long At)
{
    /// <summary>The notification's id (the <c>X-SignalStream-Delivery</c> header).</summary>
    public Guid? DeliveryId { get; init; }

    /// <summary><c>signal</c> or <c>signalResolved</c>.</summary>
    public string? Event { get; init; }

    /// <summary>The version in the symbol's signals stream (for <c>signal</c>) or outcomes stream (for <c>signalResolved</c>).</summary>
    public long SourceVersion { get; init; }

    public string? SignalId { get; init; }

    public string? Timeframe { get; init; }

    /// <summary>Attempts made so far.</summary>
    public int Attempts { get; init; }

    /// <summary>When the next attempt is due (Unix ms), for a failed attempt.</summary>
    public long? RetryAt { get; init; }

    /// <summary>Why the last attempt failed; scrubbed of the sink's secrets.</summary>
    public string? Error { get; init; }
}

/// <summary>The record types, their streams, and their stored form.</summary>
internal static class NotificationRecords
{
    public const string Cursor = "notification_cursor";
    public const string Delivered = "notification_delivered";
    public const string AttemptFailed = "notification_attempt_failed";
    public const string DeadLettered = "notification_dead_lettered";

    /// <summary>Stream type of <see cref="Stream"/> streams.</summary>
    public const string StreamType = "notifications";

    /// <summary>Stream type of <see cref="DeadLetters"/> streams.</summary>
    public const string DeadLettersType = "notification-dead-letters";

    private const int SchemaVersion = 1;

    /// <summary>A sink's progress and attempts for one symbol: <c>notifications-{sink}-{SYMBOL}</c>.</summary>
    public static string Stream(string sinkLabel, string symbol) => "notifications-" + sinkLabel + "-" + symbol;

    /// <summary>A sink's dead letters (all symbols), newest last: <c>notification-dead-letters-{sink}</c>.</summary>
    public static string DeadLetters(string sinkLabel) => "notification-dead-letters-" + sinkLabel;

    public static EventData Serialize(NotificationRecord record, DateTimeOffset now) =>
        new(Guid.CreateVersion7(now), record.Kind, SchemaVersion, JsonSerializer.SerializeToUtf8Bytes(record, NotificationJsonContext.Default.NotificationRecord), now);

    public static bool TryDeserialize(StoredEvent stored, [NotNullWhen(true)] out NotificationRecord? record)
    {
        record = null;
        if (stored.SchemaVersion != SchemaVersion || stored.Type is not (Cursor or Delivered or AttemptFailed or DeadLettered))
        {
            return false;
        }

        try
        {
            record = JsonSerializer.Deserialize(stored.Data.Span, NotificationJsonContext.Default.NotificationRecord);
            return record is not null;
        }
        catch (JsonException)
        {
            return false;
        }
    }
}

[JsonSourceGenerationOptions(JsonSerializerDefaults.Web, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(NotificationRecord))]
[JsonSerializable(typeof(IReadOnlyList<NotificationRecord>))]
internal sealed partial class NotificationJsonContext : JsonSerializerContext;
