using Microsoft.Extensions.Logging;

namespace SignalStream.Engine.Events.Postgres;

internal sealed partial class PostgresEventStore
{
    private static partial class Log
    {
        [LoggerMessage(4200, LogLevel.Information, "Event store schema '{Schema}': applied migration {Version}")]
        public static partial void MigrationApplied(ILogger logger, string schema, int version);
    }
}
