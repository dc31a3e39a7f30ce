using Microsoft.AspNetCore.SignalR;

namespace SignalStream.Hub.Hubs.Internal;

/// <summary>
/// SignalR's default lifetime manager plus the one thing the hub cannot reach itself: each connection's
/// <see cref="HubConnectionContext"/>, whose <c>WriteAsync(SerializedHubMessage)</c> lets the fan-out write one shared
/// frame to many connections through their own bounded queues.
/// </summary>
internal sealed class TrackingHubLifetimeManager(ConnectionRegistry registry, ILogger<DefaultHubLifetimeManager<SignalHub>> logger)
    : DefaultHubLifetimeManager<SignalHub>(logger)
{
    public override Task OnConnectedAsync(HubConnectionContext connection)
    {
        registry.Add(connection);
        return base.OnConnectedAsync(connection);
    }

    public override async Task OnDisconnectedAsync(HubConnectionContext connection)
    {
        await registry.RemoveAsync(connection).ConfigureAwait(false);
        await base.OnDisconnectedAsync(connection).ConfigureAwait(false);
    }
}
