using Microsoft.Extensions.Logging;

namespace SignalStream.EventStore;

public sealed partial class EngineStateLoader
{
    private static partial class Log
    {
        [LoggerMessage(4900, LogLevel.Information, "Restored the signal stage from the store: {Signals} signals, {Shadows} shadow signals, {Outcomes} outcomes across {Symbols} symbols")]
        public static partial void Restored(ILogger logger, int signals, int shadows, int outcomes, int symbols);

        [LoggerMessage(4901, LogLevel.Warning, "{Count} stored events could not be restored into the signal stage (see the preceding errors)")]
        public static partial void Unreadable(ILogger logger, int count);

        [LoggerMessage(4902, LogLevel.Error, "Stored event {StreamId} v{Version} could not be decoded: {Error}")]
        public static partial void Undecodable(ILogger logger, string streamId, long version, string error);

        [LoggerMessage(4903, LogLevel.Information, "Loaded the newest stored candle of {Loaded} of {Streams} streams; older candles offered again are not stored or signalled twice")]
        public static partial void Watermarks(ILogger logger, int loaded, int streams);
    }
}
