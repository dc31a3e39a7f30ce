using Microsoft.Extensions.Logging;

namespace SignalStream.EventStore.Postgres;

internal sealed partial class PostgresEventStore
{
    private static partial class Log
    {
        [LoggerMessage(4200, LogLevel.Information, "Event store schema '{Schema}': applied migration {Version}")]
        public static partial void MigrationApplied(ILogger logger, string schema, int version);

        [LoggerMessage(4201, LogLevel.Debug, "Direct append of {Count} events hit a unique violation on {Constraint}; taking the checked path (idempotent re-append)")]
        public static partial void DirectAppendFellBack(ILogger logger, string constraint, int count);
    }
}
