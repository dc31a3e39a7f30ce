using Microsoft.Extensions.DependencyInjection;
using SignalStream.Hub.FanOut;
using SignalStream.Hub.Hubs.Internal;

namespace SignalStream.Hub.Tests.Infrastructure;

/// <summary>A node's connections as the node sees them: what the hostile tests measure, rather than the process's RSS.</summary>
internal static class NodeConnections
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);

    public static ConnectionRegistry Registry(this TestNode node) => node.App.Services.GetRequiredService<ConnectionRegistry>();

    /// <summary>Waits until the node holds <paramref name="count"/> connections past their handshake.</summary>
    public static Task WaitForConnectionsAsync(this TestNode node, int count) =>
        Poll.UntilAsync(() => node.Registry().Count == count, Wait, $"{count} connections", () => $"{node.Registry().Count} connections", TimeSpan.FromMilliseconds(10));

    /// <summary>The node's only connection, once its handshake is done.</summary>
    public static async Task<ConnectionState> SingleConnectionAsync(this TestNode node)
    {
        await node.WaitForConnectionsAsync(1);
        return Assert.Single(node.Registry().Open);
    }

    /// <summary>The most bytes the node ever held for <paramref name="connection"/> at once.</summary>
    public static long PeakQueuedBytes(this ConnectionState connection) => connection.Output.PeakQueuedBytes;

    /// <summary>Waits until the node holds no connection and no admission slot: everything a client had is given back.</summary>
    public static Task WaitUntilEmptyAsync(this TestNode node)
    {
        var registry = node.Registry();
        return Poll.UntilAsync(() => registry.Count == 0 && registry.Admission.Open == 0, Wait, "no connection and no admission slot",
            () => $"{registry.Count} connections, {registry.Admission.Open} admission slots");
    }
}
