using Microsoft.Extensions.Logging;
using SignalStream.Contracts;

namespace SignalStream.Ingest.Binance.Internal;

/// <summary>The Binance source's log events (ids 1100-1199 of Ingest's 1000-1999).</summary>
internal static partial class Log
{
    [LoggerMessage(EventId = 1100, Level = LogLevel.Information, Message = "Binance source starting: {Streams} streams, warm-up {Warmup} candles each, {Connections} connection(s) to {StreamUrl}")]
    public static partial void Starting(ILogger logger, int streams, int warmup, int connections, string streamUrl);

    [LoggerMessage(EventId = 1101, Level = LogLevel.Information, Message = "Warm-up loaded {Candles} closed candles for {Streams} streams")]
    public static partial void WarmupDone(ILogger logger, long candles, int streams);

    [LoggerMessage(EventId = 1102, Level = LogLevel.Information, Message = "Connection {Connection} open with {Streams} streams")]
    public static partial void Connected(ILogger logger, int connection, int streams);

    [LoggerMessage(EventId = 1103, Level = LogLevel.Warning, Message = "Connection {Connection} ended ({Reason}); reconnecting in {Delay}")]
    public static partial void Disconnected(ILogger logger, int connection, string reason, TimeSpan delay, Exception? exception);

    [LoggerMessage(EventId = 1104, Level = LogLevel.Information, Message = "Connection {Connection} received serverShutdown; reconnecting now")]
    public static partial void ServerShutdown(ILogger logger, int connection);

    [LoggerMessage(EventId = 1105, Level = LogLevel.Information, Message = "Connection {Connection} reached its lifetime; rotating")]
    public static partial void Rotating(ILogger logger, int connection);

    [LoggerMessage(EventId = 1106, Level = LogLevel.Warning, Message = "Connection {Connection} received nothing for {Timeout}; replacing it")]
    public static partial void Silent(ILogger logger, int connection, TimeSpan timeout);

    [LoggerMessage(EventId = 1107, Level = LogLevel.Warning, Message = "Rejected {Count} frame(s) with reason {Reason} in the last interval (connection {Connection})")]
    public static partial void FramesRejected(ILogger logger, long count, string reason, int connection);

    [LoggerMessage(EventId = 1108, Level = LogLevel.Warning, Message = "Binance answered request {Id} with error code {Code}: {Message}")]
    public static partial void ErrorReply(ILogger logger, long id, int code, string message);

    [LoggerMessage(EventId = 1109, Level = LogLevel.Information, Message = "Backfilled {Count} candle(s) of {Stream} from REST ({Cause})")]
    public static partial void Backfilled(ILogger logger, int count, StreamKey stream, string cause);

    [LoggerMessage(EventId = 1110, Level = LogLevel.Warning, Message = "REST has no candles for {Stream} between {From} and {To}; continuing after the gap")]
    public static partial void GapNotInHistory(ILogger logger, StreamKey stream, long from, long to);

    [LoggerMessage(EventId = 1111, Level = LogLevel.Warning, Message = "REST klines request for {Stream} was rate limited ({Status}); waiting {Delay} as Retry-After asks")]
    public static partial void RestRateLimited(ILogger logger, string stream, int status, TimeSpan delay);

    [LoggerMessage(EventId = 1112, Level = LogLevel.Warning, Message = "REST klines request for {Stream} failed ({Problem}); retrying in {Delay}")]
    public static partial void RestFailed(ILogger logger, string stream, string problem, TimeSpan delay);

    [LoggerMessage(EventId = 1113, Level = LogLevel.Error, Message = "REST refused klines for {Stream} ({Status}: {Body}); the stream gets no history from REST")]
    public static partial void RestRefused(ILogger logger, string stream, int status, string body);

    [LoggerMessage(EventId = 1114, Level = LogLevel.Information, Message = "Streams changed: {Added} added, {Removed} removed, {Total} now")]
    public static partial void StreamsChanged(ILogger logger, int added, int removed, int total);

    [LoggerMessage(EventId = 1116, Level = LogLevel.Warning, Message = "Connection {Connection} received a message longer than {Limit} bytes (Ingest:Binance:MaxMessageBytes); dropping the connection")]
    public static partial void MessageTooLarge(ILogger logger, int connection, int limit);

    [LoggerMessage(EventId = 1117, Level = LogLevel.Error, Message = "Connection {Connection} failed unexpectedly; reconnecting in {Delay}")]
    public static partial void Faulted(ILogger logger, int connection, TimeSpan delay, Exception? exception);

    [LoggerMessage(EventId = 1130, Level = LogLevel.Warning, Message = "{Stream} was down past its stored candle {Stored} longer than Ingest:ResumeBackfillCandles ({Bound}) allows: candles up to {LastUndecided} are loaded as history and not decided")]
    public static partial void ResumeGapTooLong(ILogger logger, StreamKey stream, long stored, long lastUndecided, int bound);

    [LoggerMessage(EventId = 1115, Level = LogLevel.Debug, Message = "Connection {Connection} sent {Method} id {Id} for {Count} stream(s)")]
    public static partial void Sent(ILogger logger, int connection, string method, long id, int count);
}
