namespace SignalStream.Hub.Notifications.Internal;

/// <summary>Notification log events, ids 7000–7099. No message carries a secret: errors are scrubbed by the senders.</summary>
internal static partial class Log
{
    [LoggerMessage(7000, LogLevel.Information, "Notification sink {Sink} ({Type}) started for {Symbols} symbols: {Events}, min confidence {MinConfidence}, {MaxAttempts} attempts")]
    public static partial void SinkStarted(ILogger logger, string sink, string type, int symbols, string events, double minConfidence, int maxAttempts);

    [LoggerMessage(7001, LogLevel.Debug, "Sink {Sink} delivered {Event} {SignalId} (delivery {DeliveryId}, attempt {Attempt})")]
    public static partial void Delivered(ILogger logger, string sink, string @event, string signalId, Guid deliveryId, int attempt);

    [LoggerMessage(7002, LogLevel.Warning, "Sink {Sink} attempt {Attempt}/{MaxAttempts} of {Event} {SignalId} failed (delivery {DeliveryId}); retrying in {Delay}: {Error}")]
    public static partial void Retrying(ILogger logger, string sink, int attempt, int maxAttempts, string @event, string signalId, Guid deliveryId, TimeSpan delay, string? error);

    [LoggerMessage(7003, LogLevel.Error, "Sink {Sink} gave up on {Event} {SignalId} after {Attempts} attempts (delivery {DeliveryId}); stored as a dead letter: {Error}")]
    public static partial void DeadLettered(ILogger logger, string sink, string @event, string signalId, Guid deliveryId, int attempts, string? error);

    [LoggerMessage(7004, LogLevel.Warning, "Sink {Sink} could not use the event store ({Operation}); retrying in {Delay}")]
    public static partial void StoreFailed(ILogger logger, string sink, string operation, TimeSpan delay, Exception exception);

    [LoggerMessage(7005, LogLevel.Information, "Sink {Sink} resumed {Symbol}: signals from version {Signals}, outcomes from version {Outcomes}, {Pending} notifications still pending")]
    public static partial void Resumed(ILogger logger, string sink, string symbol, long signals, long outcomes, int pending);

    [LoggerMessage(7006, LogLevel.Warning, "Sink {Sink} skipped an unreadable event at {Stream} version {Version}: {Reason}")]
    public static partial void Unreadable(ILogger logger, string sink, string stream, long version, string reason);

    [LoggerMessage(7007, LogLevel.Warning, "Sink {Sink} stopped with {Pending} notifications pending; they are delivered after the next start")]
    public static partial void StoppedWithPending(ILogger logger, string sink, int pending);

    [LoggerMessage(7008, LogLevel.Warning, "Notification sink {Sink} lists symbols this node's engine does not serve, so it never notifies them here: {Symbols}")]
    public static partial void UnservedSymbols(ILogger logger, string sink, string symbols);

    [LoggerMessage(7009, LogLevel.Error, "Sink {Sink}: the sender failed unexpectedly ({ExceptionType}); counted as a failed attempt: {Message}")]
    public static partial void SenderBug(ILogger logger, string sink, string exceptionType, string message);

    [LoggerMessage(7010, LogLevel.Information, "Notification sink {Sink} is disabled (Enabled=false)")]
    public static partial void SinkDisabled(ILogger logger, string sink);
}
