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

        [LoggerMessage(4108, LogLevel.Debug, "Journal segment '{Path}' has no sidecar index: scanned")]
        public static partial void SidecarMissing(ILogger logger, string path);

        [LoggerMessage(4109, LogLevel.Warning, "Journal sidecar '{Path}' not used ({Problem}): its segment is scanned and the sidecar written again")]
        public static partial void SidecarNotUsed(ILogger logger, string path, string problem);

        [LoggerMessage(4110, LogLevel.Warning, "Could not write the journal sidecar '{Path}'; its segment is scanned at the next open instead")]
        public static partial void SidecarNotWritten(ILogger logger, string path, Exception exception);

        [LoggerMessage(4111, LogLevel.Information, "Event journal '{Path}': verifying the checksums of {Segments} sealed segment(s) indexed from their sidecars ({Bytes} bytes) in the background")]
        public static partial void VerificationStarted(ILogger logger, string path, int segments, long bytes);

        [LoggerMessage(4112, LogLevel.Information, "Event journal '{Path}': verified {Done} of {Total} bytes")]
        public static partial void VerificationProgress(ILogger logger, string path, long done, long total);

        [LoggerMessage(4113, LogLevel.Information, "Event journal '{Path}': verified {Segments} sealed segment(s) in {Seconds:F1} s, {Damaged} damaged")]
        public static partial void VerificationFinished(ILogger logger, string path, int segments, int damaged, double seconds);

        [LoggerMessage(4114, LogLevel.Error, "Journal segment '{Path}' is damaged: {Problem}. Its events from byte {DamagedFrom} on cannot be read (reads fail), the ones before still can. Restore the segment from a backup, or stop the node and move it and the later segments aside (docs/events.md, \"Verification of sealed segments\")")]
        public static partial void SegmentDamaged(ILogger logger, string path, string problem, long damagedFrom);

        [LoggerMessage(4115, LogLevel.Error, "Event journal '{Path}': the verification of sealed segments stopped; the next open starts it again")]
        public static partial void VerificationFailed(ILogger logger, string path, Exception exception);
    }
}
