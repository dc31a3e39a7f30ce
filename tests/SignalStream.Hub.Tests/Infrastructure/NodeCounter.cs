using System.Diagnostics.Metrics;
using Microsoft.Extensions.DependencyInjection;

namespace SignalStream.Hub.Tests.Infrastructure;

/// <summary>Sums one node's measurements of a counter, optionally only those with one tag value.</summary>
internal sealed class NodeCounter : IDisposable
{
    private readonly MeterListener _listener = new();
    private long _value;

    public NodeCounter(TestNode node, string instrumentName, KeyValuePair<string, object?>? tag = null)
    {
        var meters = node.App.Services.GetRequiredService<IMeterFactory>();
        _listener.InstrumentPublished = (instrument, l) =>
        {
            // This node's meter only: nodes of tests running in parallel publish the same instrument names.
            if (instrument.Name == instrumentName && ReferenceEquals(instrument.Meter.Scope, meters))
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        _listener.SetMeasurementEventCallback<long>((_, value, tags, _) =>
        {
            if (tag is not { } wanted || tags.ToArray().Any(t => t.Key == wanted.Key && Equals(t.Value, wanted.Value)))
            {
                Interlocked.Add(ref _value, value);
            }
        });
        _listener.Start();
    }

    public long Value => Interlocked.Read(ref _value);

    public void Dispose() => _listener.Dispose();
}
