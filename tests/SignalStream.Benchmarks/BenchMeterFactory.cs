using System.Diagnostics.Metrics;

namespace SignalStream.Benchmarks;

/// <summary>Meters without a listener (as in a node nobody scrapes), kept so the benchmark's cleanup disposes them.</summary>
internal sealed class BenchMeterFactory : IMeterFactory
{
    private readonly List<Meter> _meters = [];

    public Meter Create(MeterOptions options)
    {
        var meter = new Meter(options);
        _meters.Add(meter);
        return meter;
    }

    public void Dispose()
    {
        foreach (var meter in _meters)
        {
            meter.Dispose();
        }

        _meters.Clear();
    }
}
