using System.Globalization;

namespace SignalStream.LoadTests.Measurement;

/// <summary>
/// Deliveries later than a bound, counted per 100 ms of arrival time: whether a run's tail is a few moments in which
/// everything arrived late (a stall of a whole process or machine) or late deliveries spread evenly over the run (single
/// slow connections, or queues that are always long).
/// </summary>
internal sealed class LateDeliveries
{
    private const long SliceMicros = 100_000;
    private const int Slices = 36_000; // one hour of 100 ms slices, reused round-robin
    private readonly long[] _counts = new long[Slices];
    private readonly long _boundMicros;

    public LateDeliveries(double boundMs) => _boundMicros = (long)(boundMs * 1000);

    public double BoundMs => _boundMicros / 1000.0;

    public void Record(long latencyMicros, long arrivalMicros)
    {
        if (latencyMicros > _boundMicros)
        {
            Interlocked.Increment(ref _counts[(int)((arrivalMicros / SliceMicros) % Slices)]);
        }
    }

    /// <summary>How late deliveries between two arrival times (Unix µs) spread over 100 ms slices, in one line.</summary>
    public string Describe(long fromMicros, long toMicros)
    {
        var slices = new List<(long Start, long Count)>();
        for (var start = fromMicros / SliceMicros; start <= toMicros / SliceMicros; start++)
        {
            var count = Volatile.Read(ref _counts[(int)(start % Slices)]);
            if (count > 0)
            {
                slices.Add((start, count));
            }
        }

        var total = slices.Sum(s => s.Count);
        var windowSlices = Math.Max(1, (toMicros - fromMicros) / SliceMicros);
        if (total == 0)
        {
            return string.Create(CultureInfo.InvariantCulture, $"no delivery later than {BoundMs:0} ms");
        }

        var worst = slices.OrderByDescending(s => s.Count).Take(5)
            .Select(s => string.Create(CultureInfo.InvariantCulture, $"{((s.Start * SliceMicros) - fromMicros) / 1e6:0.0} s: {s.Count}"));
        var topShare = slices.OrderByDescending(s => s.Count).Take(Math.Max(1, slices.Count / 10)).Sum(s => s.Count) * 100.0 / total;
        return string.Create(CultureInfo.InvariantCulture,
            $"{total} deliveries later than {BoundMs:0} ms, in {slices.Count} of {windowSlices} 100-ms slices (the busiest tenth of those slices holds {topShare:0} %); busiest: {string.Join(", ", worst)}");
    }
}
