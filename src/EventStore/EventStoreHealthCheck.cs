using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace SignalStream.EventStore;

/// <summary>Readiness: unhealthy while the event store rejects appends (events are then only buffered).</summary>
internal sealed class EventStoreHealthCheck(EventWriter writer) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var (healthy, since, error) = writer.Health;
        var data = new Dictionary<string, object> { ["buffered"] = writer.BufferDepth };
        return Task.FromResult(healthy
            ? HealthCheckResult.Healthy("The event store accepts appends.", data)
            : HealthCheckResult.Unhealthy($"The event store has rejected appends since {since:O} ({error}); events are buffered and retried.", data: data));
    }
}
