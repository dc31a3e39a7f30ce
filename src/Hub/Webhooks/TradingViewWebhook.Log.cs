namespace SignalStream.Hub.Webhooks;

internal sealed partial class TradingViewWebhook
{
    /// <summary>Webhook event ids 5800–5849. The secret is never logged.</summary>
    private static partial class Log
    {
        [LoggerMessage(5800, LogLevel.Information, "TradingView webhook: {Count} sources configured: {Sources}")]
        public static partial void Configured(ILogger logger, int count, string sources);

        // Debug: anyone on the network can make these, and a flood of them must not flood the log (the metric counts them).
        [LoggerMessage(5801, LogLevel.Debug, "TradingView alert for source {Source} refused with {Status}: {Reason}")]
        public static partial void Refused(ILogger logger, string source, int status, string reason);

        [LoggerMessage(5802, LogLevel.Information, "TradingView alert for source {Source} is a retry of alert {AlertId}: answered again, nothing taken twice")]
        public static partial void Duplicate(ILogger logger, string source, Guid alertId);

        [LoggerMessage(5803, LogLevel.Warning, "TradingView alert for source {Source} not taken: the engine is stopping ({Reason})")]
        public static partial void Unavailable(ILogger logger, string source, string reason);
    }
}
