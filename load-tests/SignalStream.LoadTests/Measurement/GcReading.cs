using System.Globalization;

namespace SignalStream.LoadTests.Measurement;

/// <summary>
/// A SignalStream node's managed heap as its own <c>/metrics</c> shows it (the runtime's <c>System.Runtime</c> meter):
/// how much of its memory is objects, how much the collector keeps as free space between them, and what collecting
/// cost so far.
/// </summary>
internal static class GcReading
{
    public static async Task<string> DescribeAsync(Uri node, int connections, CancellationToken cancellationToken)
    {
        var gc = await MetricsScrape.ReadAsync(node, cancellationToken);
        var size = gc.Sum("dotnet_gc_last_collection_heap_size_bytes");
        var free = gc.Sum("dotnet_gc_last_collection_heap_fragmentation_size_bytes");
        return string.Create(CultureInfo.InvariantCulture,
            $"managed heap after the last collection {size / 1048576:0.0} MB, of which {free / 1048576:0.0} MB free space between objects ({free / 1024 / Math.Max(connections, 1):0.0} KB a connection); committed {gc.Sum("dotnet_gc_last_collection_memory_committed_size_bytes") / 1048576:0.0} MB; collections gen0 {Collections(gc, 0):0}, gen1 {Collections(gc, 1):0}, gen2 {Collections(gc, 2):0}, paused {PauseSeconds(gc):0.00} s in all since start");
    }

    /// <summary>Collections of <paramref name="generation"/> since the node started.</summary>
    public static double Collections(MetricsScrape gc, int generation) =>
        gc.Sum("dotnet_gc_collections_total", string.Create(CultureInfo.InvariantCulture, $"\"gen{generation}\""));

    /// <summary>
    /// Bytes the node has allocated since it started (the runtime's running total, exact to an allocation context's
    /// few KB): its difference over a window is what the collections in it had to deal with.
    /// </summary>
    public static double AllocatedBytes(MetricsScrape gc) => gc.Sum("dotnet_gc_heap_total_allocated_bytes_total");

    /// <summary>Seconds the node's collector has paused it since it started.</summary>
    public static double PauseSeconds(MetricsScrape gc) => gc.Sum("dotnet_gc_pause_time_seconds_total");
}
