using System.Collections.Concurrent;
using System.Diagnostics.Metrics;

namespace SignalStream.Ingest.Tests.Binance;

/// <summary>Sums every counter measurement of the meters one <see cref="IMeterFactory"/> made, by name and tags.</summary>
internal sealed class MetricRecorder : IDisposable
{
    private readonly ConcurrentDictionary<string, long> _sums = new(StringComparer.Ordinal);
    private readonly MeterListener _listener = new();

    public MetricRecorder(IMeterFactory factory)
    {
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

    /// <summary>The sum for <paramref name="name"/> over every series whose tags include all of <paramref name="tags"/> (<c>key=value</c>).</summary>
    public long Sum(string name, params string[] tags) =>
        _sums.Where(p => p.Key.Split(',')[0] == name && tags.All(t => p.Key.Split(',').Skip(1).Contains(t))).Sum(p => p.Value);

    public string Dump() => string.Join("; ", _sums.OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => $"{p.Key} {p.Value}"));

    public void Dispose() => _listener.Dispose();
}
