using System.Runtime.CompilerServices;

namespace SignalStream.Hub.FanOut.Internal;

/// <summary>
/// Sizes the shared array pool for a fan-out node before anything rents from it.
/// </summary>
/// <remarks>
/// SignalR creates each connection's pipes without a memory pool of their own, so they rent their 4 KB blocks from
/// <c>ArrayPool&lt;byte&gt;.Shared</c>: one block per message written to an idle connection, returned once the transport
/// has sent it. A fan-out writes a signal to hundreds of connections before their transports return the blocks, and the
/// shared pool keeps only 32 arrays per size and core, so almost every delivery allocated a fresh 4 KB array (about
/// 350 MB/s of garbage at 100k deliveries/s, half the server's CPU in allocation, page clearing and GC). The pool reads
/// its size once, from the environment, when first used; this runs as the Hub assembly loads (before <c>Main</c>), and
/// an operator's own setting wins. Measured with the load harness: see BENCHMARKS.md, "Hub fan-out (server)".
/// </remarks>
internal static class TransportBufferPool
{
    public const string MaxArraysVariable = "DOTNET_SYSTEM_BUFFERS_SHAREDARRAYPOOL_MAXARRAYSPERPARTITION";

    /// <summary>Arrays kept per size and core: enough for a fan-out burst to thousands of connections. The pool trims what
    /// goes unused (on gen 2 collections), so a quiet node does not hold them.</summary>
    public const int MaxArraysPerPartition = 4096;

    [ModuleInitializer]
    internal static void Configure()
    {
        if (string.IsNullOrEmpty(Environment.GetEnvironmentVariable(MaxArraysVariable)))
        {
            Environment.SetEnvironmentVariable(MaxArraysVariable, MaxArraysPerPartition.ToString(System.Globalization.CultureInfo.InvariantCulture));
        }
    }
}
