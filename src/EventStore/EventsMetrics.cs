namespace SignalStream.EventStore;

/// <summary>Names of the events area's metrics.</summary>
public static class EventsMetrics
{
    /// <summary>The meter of the event writer and store.</summary>
    public const string MeterName = "SignalStream.Events";
}
