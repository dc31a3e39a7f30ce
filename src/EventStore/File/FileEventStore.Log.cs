using Microsoft.Extensions.Logging;

namespace SignalStream.EventStore.File;

internal sealed partial class FileEventStore
{
    private static partial class Log
    {
        [LoggerMessage(4100, LogLevel.Information, "Event journal '{Path}' opened: {Segments} segment(s), last position {LastPosition}, {Streams} stream(s), read-only {ReadOnly}")]
        public static partial void JournalOpened(ILogger logger, string path, int segments, long lastPosition, int streams, bool readOnly);

        [LoggerMessage(4101, LogLevel.Warning, "Journal segment '{Path}' had a torn tail (an unfinished group commit): truncated to {ValidLength} bytes, dropped {DroppedBytes} bytes")]
        public static partial void TornTailTruncated(ILogger logger, string path, long validLength, long droppedBytes);

        [LoggerMessage(4102, LogLevel.Information, "Journal segment '{Path}' deleted by retention (events up to position {LastPosition})")]
        public static partial void SegmentDeleted(ILogger logger, string path, long lastPosition);

        [LoggerMessage(4103, LogLevel.Debug, "Retention keeps '{Path}' (up to position {LastPosition}): projections have consumed only up to {ReleasedUpTo}")]
        public static partial void RetentionWaitsForConsumers(ILogger logger, string path, long lastPosition, long releasedUpTo);

        [LoggerMessage(4104, LogLevel.Error, "Could not cut a partly written record from '{Path}' after a failed write; recovery will truncate it at the next open")]
        public static partial void TruncateAfterFailedWriteFailed(ILogger logger, string path, Exception exception);

        [LoggerMessage(4105, LogLevel.Error, "Could not start the journal segment '{Path}' (the group is retried; nothing half-made is left behind)")]
        public static partial void RollOverFailed(ILogger logger, string path, Exception exception);

        [LoggerMessage(4106, LogLevel.Warning, "Could not delete the partial segment '{Path}'; the next open deletes it")]
        public static partial void PartialSegmentNotDeleted(ILogger logger, string path, Exception exception);

        [LoggerMessage(4107, LogLevel.Information, "Journal segment '{Path}' read up to byte {ValidLength} (read-only): the {Bytes} bytes after it are a group commit still being written, or a torn tail its owner will truncate")]
        public static partial void TailNotYetComplete(ILogger logger, string path, long validLength, long bytes);
    }
}
