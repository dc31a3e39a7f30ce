namespace SignalStream.Hub.Observability.Internal;

internal sealed partial class PrometheusCollector
{
    [LoggerMessage(EventId = 6000, Level = LogLevel.Information, Message = "Prometheus exposition serving at {Path}")]
    private partial void LogStarted(string path);

    [LoggerMessage(EventId = 6001, Level = LogLevel.Warning,
        Message = "Instrument {Instrument} of meter {Meter} maps to metric {Metric}, which another instrument exports with a different type; it is not exported. Rename one of them.")]
    private partial void LogNameConflict(string instrument, string meter, string metric);

    [LoggerMessage(EventId = 6002, Level = LogLevel.Warning,
        Message = "Metric {Metric} reached {MaxSeries} series; further tag sets go to its overflow=\"true\" series. A label has unbounded values, or raise Observability:MaxSeriesPerMetric.")]
    private partial void LogSeriesCapReached(string metric, int maxSeries);
}
