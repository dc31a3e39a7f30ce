namespace SignalStream.Hub.MetricsExporter.Internal;

/// <summary>
/// Starts the listener with the host. It is registered before the stages, so it starts before their hosted services
/// and sees their measurements from the first one.
/// </summary>
internal sealed class MetricsHostedService(PrometheusCollector collector) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken)
    {
        collector.Start();
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
