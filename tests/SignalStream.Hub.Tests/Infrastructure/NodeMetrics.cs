using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using Microsoft.Extensions.DependencyInjection;

namespace SignalStream.Hub.Tests.Infrastructure;

/// <summary>
/// One node's own metrics, read in process by name: counters summed since the listener started, gauges observed on
/// demand. Only this node's meter is listened to (nodes of tests running in parallel publish the same names).
/// </summary>
internal sealed class NodeMetrics : IDisposable
{
    private readonly MeterListener _listener = new();
    private readonly ConcurrentDictionary<string, long> _counters = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, double> _gauges = new(StringComparer.Ordinal);

    public NodeMetrics(TestNode node)
    {
        var meters = node.App.Services.GetRequiredService<IMeterFactory>();
        _listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Name.StartsWith("signalstream_hub_", StringComparison.Ordinal) && ReferenceEquals(instrument.Meter.Scope, meters))
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        _listener.SetMeasurementEventCallback<long>((instrument, value, _, _) => Record(instrument, value));
        _listener.SetMeasurementEventCallback<int>((instrument, value, _, _) => Record(instrument, value));
        _listener.SetMeasurementEventCallback<double>((instrument, value, _, _) => Record(instrument, value));
        _listener.Start();
    }

    /// <summary>What a counter added up to since this listener started (0 when it never moved or does not exist).</summary>
    public long Counter(string name) => _counters.GetValueOrDefault(name);

    /// <summary>A gauge's value now (0 when it does not exist).</summary>
    public double Gauge(string name)
    {
        _listener.RecordObservableInstruments();
        return _gauges.GetValueOrDefault(name);
    }

    public void Dispose() => _listener.Dispose();

    private void Record(Instrument instrument, double value)
    {
        if (instrument.GetType().Name.StartsWith("Observable", StringComparison.Ordinal))
        {
            _gauges[instrument.Name] = value;
        }
        else
        {
            _counters.AddOrUpdate(instrument.Name, (long)value, (_, total) => total + (long)value);
        }
    }
}
