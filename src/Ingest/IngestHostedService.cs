using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace SignalStream.Ingest;

/// <summary>
/// Runs the configured <see cref="ICandleSource"/> for the life of the process, from the moment the host has started
/// (every hosted service, the web server last): a source's first work is its warm-up history, thousands of candles
/// through the engine that readiness never waited for, and on two cores it would otherwise take the CPU the rest of the
/// start needs (BENCHMARKS.md, "Cold start").
/// </summary>
internal sealed partial class IngestHostedService(
    ICandleSource source,
    CandleUpdateChannel channel,
    IHostApplicationLifetime lifetime,
    ILogger<IngestHostedService> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        try
        {
            await WhenStartedAsync(stoppingToken).ConfigureAwait(false);
            Log.Starting(logger, source.Exchange);
            await source.RunAsync(channel, stoppingToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Shutdown: the engine drains what is queued.
        }
        catch (Exception ex)
        {
            Log.SourceFailed(logger, source.Exchange, ex);
            throw;
        }
        finally
        {
            channel.Complete();
            Log.Stopped(logger, source.Exchange);
        }
    }

    private async Task WhenStartedAsync(CancellationToken stoppingToken)
    {
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using var onStarted = lifetime.ApplicationStarted.Register(static s => ((TaskCompletionSource)s!).TrySetResult(), started);
        await started.Task.WaitAsync(stoppingToken).ConfigureAwait(false);
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 1000, Level = LogLevel.Information, Message = "Ingest starting with source {Exchange}")]
        public static partial void Starting(ILogger logger, string exchange);

        [LoggerMessage(EventId = 1001, Level = LogLevel.Critical, Message = "Ingest source {Exchange} failed and stopped")]
        public static partial void SourceFailed(ILogger logger, string exchange, Exception exception);

        [LoggerMessage(EventId = 1002, Level = LogLevel.Information, Message = "Ingest source {Exchange} stopped; candle channel completed")]
        public static partial void Stopped(ILogger logger, string exchange);
    }
}
