using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace SignalStream.Ingest;

/// <summary>Runs the configured <see cref="ICandleSource"/> for the life of the process.</summary>
internal sealed partial class IngestHostedService(
    ICandleSource source,
    CandleUpdateChannel channel,
    ILogger<IngestHostedService> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        LogStarting(source.Exchange);
        try
        {
            await source.RunAsync(channel, stoppingToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Shutdown: the engine drains what is queued.
        }
        catch (Exception ex)
        {
            LogSourceFailed(source.Exchange, ex);
            throw;
        }
        finally
        {
            channel.Complete();
            LogStopped(source.Exchange);
        }
    }

    [LoggerMessage(EventId = 1000, Level = LogLevel.Information, Message = "Ingest starting with source {Exchange}")]
    private partial void LogStarting(string exchange);

    [LoggerMessage(EventId = 1001, Level = LogLevel.Critical, Message = "Ingest source {Exchange} failed and stopped")]
    private partial void LogSourceFailed(string exchange, Exception exception);

    [LoggerMessage(EventId = 1002, Level = LogLevel.Information, Message = "Ingest source {Exchange} stopped; candle channel completed")]
    private partial void LogStopped(string exchange);
}
