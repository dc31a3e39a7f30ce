using Microsoft.Extensions.Logging;

namespace SignalStream.Client;

public sealed partial class SignalStreamClient
{
    internal static partial class Log
    {
        [LoggerMessage(EventId = 9001, EventName = "Reconnecting", Level = LogLevel.Information, Message = "SignalStream connection lost ({Reason}); reconnecting")]
        public static partial void Reconnecting(ILogger logger, string reason);

        [LoggerMessage(EventId = 9002, EventName = "Connected", Level = LogLevel.Information, Message = "SignalStream connected; re-subscribing {Count} symbol(s)")]
        public static partial void Connected(ILogger logger, int count);

        [LoggerMessage(EventId = 9003, EventName = "Closed", Level = LogLevel.Warning, Message = "SignalStream connection closed ({Reason}); restarting")]
        public static partial void Closed(ILogger logger, string reason);

        [LoggerMessage(EventId = 9004, EventName = "RestartFailed", Level = LogLevel.Information, Message = "SignalStream restart attempt {Attempt} failed: {Reason}")]
        public static partial void RestartFailed(ILogger logger, int attempt, string reason);

        [LoggerMessage(EventId = 9005, EventName = "InvocationFailed", Level = LogLevel.Warning, Message = "{Method} failed: {Reason}")]
        public static partial void InvocationFailed(ILogger logger, string method, string reason);

        [LoggerMessage(EventId = 9006, EventName = "RecoveryIncomplete", Level = LogLevel.Information, Message = "{Symbol}: not everything was recoverable yet (signals after seq {AfterSeq} short: {SignalsShort}; outcomes after outcomeSeq {AfterOutcomeSeq} short: {OutcomesShort}; {Reason}); asking again in {Wait}")]
        public static partial void RecoveryIncomplete(ILogger logger, string symbol, long? afterSeq, bool signalsShort, long? afterOutcomeSeq, bool outcomesShort, string reason, TimeSpan wait);

        [LoggerMessage(EventId = 9007, EventName = "SignalGap", Level = LogLevel.Warning, Message = "{Message}")]
        public static partial void SignalGap(ILogger logger, string message);

        [LoggerMessage(EventId = 9009, EventName = "OutcomeGap", Level = LogLevel.Warning, Message = "{Message}")]
        public static partial void OutcomeGap(ILogger logger, string message);

        [LoggerMessage(EventId = 9010, EventName = "CandleGap", Level = LogLevel.Warning, Message = "{Message}")]
        public static partial void CandleGap(ILogger logger, string message);

        [LoggerMessage(EventId = 9008, EventName = "HandlerFailed", Level = LogLevel.Error, Message = "A SignalStream handler threw: {Message}")]
        public static partial void HandlerFailed(ILogger logger, Exception exception, string message);
    }
}
