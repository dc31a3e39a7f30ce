using System.Diagnostics;

namespace SignalStream.LoadTests.Measurement;

/// <summary>
/// The measured window of a publishing scenario: restarts the process samplers, then once a second records the
/// deliveries of that second and a CPU/memory sample of every process, until the window's length has passed.
/// </summary>
internal static class PublishWindow
{
    /// <returns>The watch started with the window, for the scenario's own elapsed-time figures.</returns>
    public static Stopwatch Start(IEnumerable<ProcessSampler> samplers)
    {
        foreach (var sampler in samplers)
        {
            sampler.Restart();
        }

        return Stopwatch.StartNew();
    }

    /// <returns>Deliveries counted at the last sample, the end of the window.</returns>
    public static async Task<long> SampleUntilAsync(
        Stopwatch watch,
        double seconds,
        Func<long> delivered,
        List<long> deliveredPerSecond,
        IReadOnlyList<ProcessSampler> samplers,
        CancellationToken cancellationToken)
    {
        var last = delivered();
        while (watch.Elapsed.TotalSeconds < seconds)
        {
            await Task.Delay(1000, cancellationToken);
            var now = delivered();
            deliveredPerSecond.Add(now - last);
            last = now;
            foreach (var sampler in samplers)
            {
                sampler.Sample();
            }
        }

        return last;
    }
}
