namespace SignalStream.Hub.MetricsExporter.Internal;

internal sealed partial class PrometheusCollector
{
    private static partial class Log
    {
        [LoggerMessage(EventId = 6000, Level = LogLevel.Information, Message = "Prometheus exposition serving at {Path}")]
        public static partial void Started(ILogger logger, string path);

        [LoggerMessage(EventId = 6001, Level = LogLevel.Warning,
            Message = "Instrument {Instrument} of meter {Meter} maps to metric {Metric}, which another instrument exports with a different type; it is not exported. Rename one of them.")]
        public static partial void NameConflict(ILogger logger, string instrument, string meter, string metric);

        [LoggerMessage(EventId = 6002, Level = LogLevel.Warning,
            Message = "Metric {Metric} reached {MaxSeries} series; further tag sets go to its overflow=\"true\" series. A label has unbounded values, or raise Observability:MaxSeriesPerMetric.")]
        public static partial void SeriesCapReached(ILogger logger, string metric, int maxSeries);
    }
}
