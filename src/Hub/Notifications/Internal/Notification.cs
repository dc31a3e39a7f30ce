using SignalStream.Contracts;

namespace SignalStream.Hub.Notifications.Internal;

/// <summary>
/// What is being notified: a published signal, or the resolution of one. Read from the store (so it is durable), it is
/// the same for every attempt and every sink.
/// </summary>
/// <param name="Event"><see cref="NotificationEvents.Signal"/> or <see cref="NotificationEvents.SignalResolved"/>.</param>
/// <param name="Signal">The signal, or for a resolution the signal it resolves when the store still has it.</param>
/// <param name="Outcome">The resolution (null for a signal).</param>
internal sealed record Notification(NotificationEvents Event, Signal? Signal, SignalOutcome? Outcome)
{
    public string Symbol => Outcome?.Symbol ?? Signal!.Symbol;

    public Timeframe Timeframe => Outcome?.Timeframe ?? Signal!.Timeframe;

    /// <summary>The hub's event name: <c>signal</c> or <c>signalResolved</c>.</summary>
    public string EventName => Event == NotificationEvents.Signal ? "signal" : "signalResolved";

    /// <summary>When it happened (Unix ms): the signal's publication, or the resolution: the start of the latency metric.</summary>
    public long OccurredAt => Outcome?.ResolvedAt ?? (Signal!.PublishedAt > 0 ? Signal.PublishedAt : Signal.CreatedAt);

    /// <summary>The signal id (of the signal itself, or of the one resolved).</summary>
    public string SignalId => Outcome?.SignalId ?? Signal!.Id;
}

/// <summary>A notification rendered for one sink: the bytes every attempt sends (their size counts against the queue bound).</summary>
/// <param name="Body">The request body (JSON for HTTP sinks, the message text for Telegram and email).</param>
/// <param name="Subject">A one-line summary (the mail subject).</param>
internal sealed record RenderedNotification(byte[] Body, string Subject);

/// <summary>How one attempt ended.</summary>
internal enum SendStatus
{
    Delivered,

    /// <summary>Failed for now: try again (after <see cref="SendResult.RetryAfter"/> at least, when the receiver said).</summary>
    Transient,

    /// <summary>Failed in a way another attempt would repeat: a dead letter at once.</summary>
    Permanent,
}

/// <summary>The result of one attempt; <see cref="Error"/> is safe to log (the sender scrubs its secrets out).</summary>
internal readonly record struct SendResult(SendStatus Status, string? Error = null, TimeSpan? RetryAfter = null)
{
    public static SendResult Delivered { get; } = new(SendStatus.Delivered);
}

/// <summary>Delivers notifications to one kind of destination. One instance per sink.</summary>
internal interface INotificationSender : IDisposable
{
    /// <summary>Renders a notification once, when it is taken from the store.</summary>
    RenderedNotification Render(Notification notification);

    /// <summary>One attempt. Expected failures come back as a result; only cancellation throws.</summary>
    /// <param name="deliveryId">The same on every attempt of this notification (receivers deduplicate on it).</param>
    ValueTask<SendResult> SendAsync(RenderedNotification rendered, Guid deliveryId, CancellationToken cancellationToken);
}
