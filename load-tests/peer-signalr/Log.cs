using SignalStream.PeerSignalR.Internal;

namespace SignalStream.PeerSignalR;

/// <summary>The peer's log events (ids 1-99).</summary>
internal static partial class Log
{
    [LoggerMessage(EventId = 1, Level = LogLevel.Information, Message = "Relaying signals of {Symbols} symbols from Redis channels {Prefix}:{{SYMBOL}}")]
    public static partial void Listening(ILogger logger, int symbols, string prefix);

    [LoggerMessage(EventId = 2, Level = LogLevel.Warning, Message = "Dropped a message on {Symbol}'s channel: {Reason} ({Count} so far)")]
    public static partial void Rejected(ILogger logger, string symbol, EnvelopeRead reason, long count);

    [LoggerMessage(EventId = 3, Level = LogLevel.Warning, Message = "Could not send a signal to group {Symbol} ({Count} so far)")]
    public static partial void SendFailed(ILogger logger, string symbol, long count, Exception exception);
}
