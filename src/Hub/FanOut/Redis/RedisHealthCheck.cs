using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace SignalStream.Hub.FanOut.Redis;

/// <summary>
/// Readiness view of the Redis bus: Degraded, never Unhealthy, while Redis is down.
/// </summary>
/// <remarks>
/// A Redis outage hits every node at once; failing readiness would make the load balancer drop all of them together,
/// although each node still serves connections, resume from the store and (role <c>all</c>) local delivery, and repairs
/// cross-node delivery from the store when Redis is back. Degraded keeps /health/ready at 200 and says why. (Refused
/// credentials at start never get this far: the node does not start.)
/// </remarks>
internal sealed class RedisHealthCheck(ISignalBus bus) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
        Task.FromResult(bus.IsConnected
            ? HealthCheckResult.Healthy("Redis fan-out bus connected.")
            : HealthCheckResult.Degraded("Redis fan-out bus disconnected: cross-node delivery pauses and is repaired from the store when it returns."));
}
