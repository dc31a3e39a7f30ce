using Microsoft.Extensions.Logging;

namespace SignalStream.EventStore;

internal sealed partial class EventWriter
{
    private static partial class Log
    {
        [LoggerMessage(4000, LogLevel.Warning, "Event store append of {Count} events failed ({Buffered} more buffered); retrying in {Delay}")]
        public static partial void AppendFailed(ILogger logger, int count, int buffered, TimeSpan delay, Exception exception);

        [LoggerMessage(4001, LogLevel.Information, "Event store is accepting appends again (failing since {Since:O}); committed {Count} events")]
        public static partial void Recovered(ILogger logger, DateTimeOffset since, int count);

        [LoggerMessage(4002, LogLevel.Error, "Signal seq conflict on stream '{StreamId}' (stored version {Actual}): appending without the version check so nothing is lost; a second engine may be writing these symbols")]
        public static partial void SeqConflict(ILogger logger, string streamId, long actual);

        [LoggerMessage(4003, LogLevel.Information, "Event writer drained at shutdown ({Count} events were buffered)")]
        public static partial void Drained(ILogger logger, int count);

        [LoggerMessage(4004, LogLevel.Error, "Event writer gave up at shutdown after {Timeout}: {Count} buffered events were NOT persisted")]
        public static partial void ShutdownAbandoned(ILogger logger, int count, TimeSpan timeout);

        [LoggerMessage(4005, LogLevel.Warning, "Event writer aborted with {Count} events not persisted")]
        public static partial void Aborted(ILogger logger, int count);

        [LoggerMessage(4006, LogLevel.Warning, "A committed event of '{StreamId}' was not published live (it is stored: clients get it when they resume or their hub repairs the hole)")]
        public static partial void PublishFailed(ILogger logger, string streamId, Exception exception);
    }
}
