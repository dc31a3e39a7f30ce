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
    public static async Task WaitForConnectionsAsync(this TestNode node, int count)
    {
        using var deadline = new CancellationTokenSource(Wait);
        while (node.Registry().Count != count)
        {
            await Task.Delay(10, deadline.Token);
        }
    }

    /// <summary>The node's only connection, once its handshake is done.</summary>
    public static async Task<ConnectionState> SingleConnectionAsync(this TestNode node)
    {
        await node.WaitForConnectionsAsync(1);
        return Assert.Single(node.Registry().Open);
    }

    /// <summary>The most bytes the node ever held for <paramref name="connection"/> at once.</summary>
    public static long PeakQueuedBytes(this ConnectionState connection) => connection.Output.PeakQueuedBytes;

    /// <summary>Waits until the node holds no connection and no admission slot: everything a client had is given back.</summary>
    public static async Task WaitUntilEmptyAsync(this TestNode node)
    {
        using var deadline = new CancellationTokenSource(Wait);
        var registry = node.Registry();
        while (registry.Count != 0 || registry.Admission.Open != 0)
        {
            await Task.Delay(20, deadline.Token);
        }
    }
}
