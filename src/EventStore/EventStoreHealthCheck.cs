using Microsoft.Extensions.Diagnostics.HealthChecks;
using SignalStream.EventStore.File;

namespace SignalStream.EventStore;

/// <summary>
/// Readiness: unhealthy while the event store rejects appends (events are then only buffered); degraded while a sealed
/// journal segment is known to be damaged (appends go on, some older events cannot be read).
/// </summary>
internal sealed class EventStoreHealthCheck(EventWriter writer, IEventStore store) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var (healthy, since, error) = writer.Health;
        var data = new Dictionary<string, object> { ["buffered"] = writer.BufferDepth };
        if (!healthy)
        {
            return Task.FromResult(HealthCheckResult.Unhealthy($"The event store has rejected appends since {since:O} ({error}); events are buffered and retried.", data: data));
        }

        if (store is FileEventStore { DamagedSegments: { Count: > 0 } damaged })
        {
            data["damagedSegments"] = damaged.Select(d => d.Path).ToArray();
            return Task.FromResult(HealthCheckResult.Degraded(
                $"The event store accepts appends, but journal segment(s) {string.Join(", ", damaged.Select(d => $"'{d.Path}' ({d.Problem})"))} " +
                "failed their checksum verification: their events past the damage cannot be read. Restore them from a backup (docs/events.md, \"Verification of sealed segments\").",
                data: data));
        }

        return Task.FromResult(HealthCheckResult.Healthy("The event store accepts appends.", data));
    }
}
