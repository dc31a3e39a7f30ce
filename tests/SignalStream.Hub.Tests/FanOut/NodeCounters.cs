using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using Microsoft.Extensions.DependencyInjection;

namespace SignalStream.Hub.Tests.FanOut;

/// <summary>Sums one node's counter measurements (its own meter factory's instruments only), by name and tags.</summary>
internal sealed class NodeCounters : IDisposable
{
    private readonly ConcurrentDictionary<string, long> _sums = new(StringComparer.Ordinal);
    private readonly MeterListener _listener = new();

    public NodeCounters(TestNode node)
    {
        var factory = node.App.Services.GetRequiredService<IMeterFactory>();
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (ReferenceEquals(instrument.Meter.Scope, factory))
            {
                listener.EnableMeasurementEvents(instrument);
            }
        };
        _listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) =>
        {
            var key = instrument.Name;
            foreach (var tag in tags)
            {
                key += $",{tag.Key}={tag.Value}";
            }

            _sums.AddOrUpdate(key, value, (_, sum) => sum + value);
        });
        _listener.Start();
    }

    /// <summary>The sum for <paramref name="name"/> over every series whose tags include all of <paramref name="tags"/>.</summary>
    public long Sum(string name, params string[] tags) =>
        _sums.Where(p => p.Key.Split(',')[0] == name && tags.All(t => p.Key.Split(',').Skip(1).Contains(t))).Sum(p => p.Value);

    public void Dispose() => _listener.Dispose();
}
