using System.Globalization;

namespace SignalStream.LoadTests.Measurement;

/// <summary>
/// Garbage-collection pauses during one publish window, in the harness (its own runtime) and, for a SignalStream node,
/// in the server (its <c>/metrics</c>): a latency spike that lines up with a pause is the collector's, not the
/// network's.
/// </summary>
internal sealed class GcPauseWindow
{
    private readonly Uri? _node;
    private readonly TimeSpan _harnessPause;
    private readonly int _harnessGen2;
    private readonly double _serverPauseSeconds;
    private readonly double _serverGen2;

    private GcPauseWindow(Uri? node, double serverPauseSeconds, double serverGen2)
    {
        _node = node;
        _harnessPause = GC.GetTotalPauseDuration();
        _harnessGen2 = GC.CollectionCount(2);
        _serverPauseSeconds = serverPauseSeconds;
        _serverGen2 = serverGen2;
    }

    /// <param name="node">A SignalStream node to read the server's pauses from; null for a peer (no such endpoint).</param>
    public static async Task<GcPauseWindow> StartAsync(Uri? node, CancellationToken cancellationToken)
    {
        if (node is null)
        {
            return new GcPauseWindow(null, 0, 0);
        }

        var scrape = await MetricsScrape.ReadAsync(node, cancellationToken);
        return new GcPauseWindow(node, GcReading.PauseSeconds(scrape), GcReading.Collections(scrape, 2));
    }

    public async Task<string> DescribeAsync(double seconds, CancellationToken cancellationToken)
    {
        var harness = (GC.GetTotalPauseDuration() - _harnessPause).TotalMilliseconds;
        var text = string.Create(CultureInfo.InvariantCulture,
            $"GC pauses in the {seconds:0.0} s window: harness {harness:0} ms ({GC.CollectionCount(2) - _harnessGen2} gen2)");
        if (_node is null)
        {
            return text;
        }

        var scrape = await MetricsScrape.ReadAsync(_node, cancellationToken);
        var server = (GcReading.PauseSeconds(scrape) - _serverPauseSeconds) * 1000;
        var gen2 = GcReading.Collections(scrape, 2) - _serverGen2;
        return text + string.Create(CultureInfo.InvariantCulture, $", server {server:0} ms ({gen2:0} gen2)");
    }
}
