using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;

namespace SignalStream.Ingest;

/// <summary>
/// Readiness fails when the live source has gone quiet: an unreachable exchange is otherwise invisible, because the
/// source retries (and backs off) forever while the node keeps answering.
/// </summary>
internal sealed class IngestFreshnessHealthCheck(CandleUpdateChannel channel, IOptions<IngestOptions> options) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var limit = options.Value.StaleAfterSeconds;
        var quiet = channel.SinceLastWrite;
        var data = new Dictionary<string, object> { ["secondsSinceLastUpdate"] = Math.Round(quiet.TotalSeconds, 1) };
        var result = limit == 0 || quiet.TotalSeconds < limit
            ? HealthCheckResult.Healthy($"last candle update {quiet.TotalSeconds:F0} s ago", data)
            : HealthCheckResult.Unhealthy(
                $"no candle update from {options.Value.Source.ToName()} for {quiet.TotalSeconds:F0} s (Ingest:StaleAfterSeconds is {limit}); " +
                "the exchange may be unreachable: see the ingest logs for connection errors", data: data);
        return Task.FromResult(result);
    }
}
