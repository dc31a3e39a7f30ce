using global::Marten.Events.Daemon.Coordination;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace SignalStream.EventStore.Marten;

/// <summary>
/// Runs the Marten store's async projections (the performance projection) through Marten's projection coordinator in
/// hot/cold mode: every node on the store offers, one holds the leadership lock and runs the daemon, another takes
/// over when it stops. The schema is applied first, so the daemon never meets a missing table.
/// </summary>
internal sealed class MartenProjectionHost(MartenEventStore store, ILogger<ProjectionCoordinator> logger) : IHostedService, IAsyncDisposable
{
    private ProjectionCoordinator? _coordinator;

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        await store.InitializeAsync(cancellationToken).ConfigureAwait(false);
        _coordinator = new ProjectionCoordinator(store.Documents, logger);
        await _coordinator.StartAsync(cancellationToken).ConfigureAwait(false);
    }

    public Task StopAsync(CancellationToken cancellationToken) =>
        _coordinator?.StopAsync(cancellationToken) ?? Task.CompletedTask;

    public async ValueTask DisposeAsync()
    {
        if (_coordinator is not null)
        {
            await _coordinator.DisposeAsync().ConfigureAwait(false);
        }
    }
}
