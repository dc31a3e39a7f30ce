using Microsoft.Extensions.Logging;

namespace SignalStream.EventStore.Marten;

internal sealed partial class MartenEventStore
{
    private static partial class Log
    {
        [LoggerMessage(4250, LogLevel.Information, "Marten event store schema '{Schema}' is up to date")]
        public static partial void SchemaApplied(ILogger logger, string schema);

        [LoggerMessage(4251, LogLevel.Debug, "Marten append of {Count} events failed with a duplicate or a version conflict ({Reason}); taking the checked path")]
        public static partial void DirectAppendFellBack(ILogger logger, string reason, int count);

        [LoggerMessage(4252, LogLevel.Debug, "Marten checked append raced another writer ({Reason}); attempt {Attempt}")]
        public static partial void CheckedAppendRaced(ILogger logger, string reason, int attempt);
    }
}
