using System.Diagnostics.Metrics;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using SignalStream.Contracts;

namespace SignalStream.Ingest.Replay;

/// <summary>
/// The <c>replay</c> source: closed candles from a recorded file, in close-time order (so in order per stream),
/// paced by their close times at <see cref="ReplaySourceOptions.Speed"/> or as fast as the engine takes them.
/// </summary>
/// <remarks>A file with invalid lines is refused as a whole unless <see cref="ReplaySourceOptions.SkipInvalid"/>:
/// silently skipping lines would replay a market with holes in it. Either way every problem is logged.</remarks>
internal sealed partial class ReplayCandleSource(
    IOptions<ReplaySourceOptions> options,
    TimeProvider timeProvider,
    IMeterFactory meterFactory,
    CandleUpdateChannel channel,
    ILogger<ReplayCandleSource> logger) : ICandleSource
{
    public const string ExchangeName = "replay";

    private readonly IngestMetrics _metrics = new(meterFactory, channel, ExchangeName);
    private const int MaxLoggedProblems = 20;

    public string Exchange => ExchangeName;

    public async Task RunAsync(CandleUpdateChannel output, CancellationToken cancellationToken)
    {
        var settings = options.Value;
        var symbol = string.IsNullOrEmpty(settings.Symbol) ? null : settings.Symbol.ToUpperInvariant();
        var read = CandleFile.Read(settings.Path, symbol, settings.ResolvedTimeframe());
        for (var i = 0; i < read.Errors.Count && i < MaxLoggedProblems; i++)
        {
            Log.Problem(logger, read.Errors[i]);
        }

        if (read.Errors.Count > 0 && !settings.SkipInvalid)
        {
            Log.Refused(logger, settings.Path, read.Errors.Count);
            return;
        }

        Log.Starting(logger, read.Candles.Count, settings.Path, read.Errors.Count, settings.Speed);
        var wallStart = timeProvider.GetUtcNow().ToUnixTimeMilliseconds();
        var marketStart = read.Candles.Count > 0 ? read.Candles[0].CloseTime : 0;
        foreach (var candle in read.Candles)
        {
            var now = timeProvider.GetUtcNow().ToUnixTimeMilliseconds();
            if (settings.Speed > 0)
            {
                var due = wallStart + (long)((candle.CloseTime - marketStart) / settings.Speed);
                if (due > now)
                {
                    await Task.Delay(TimeSpan.FromMilliseconds(due - now), timeProvider, cancellationToken).ConfigureAwait(false);
                    now = timeProvider.GetUtcNow().ToUnixTimeMilliseconds();
                }
            }

            await output.WriteClosedAsync(new CandleUpdate(ExchangeName, candle, true, now, now, CandleOrigin.Replay), cancellationToken)
                .ConfigureAwait(false);
            _metrics.MessageReceived(); // after the write: a write cancelled at shutdown emitted nothing
        }

        Log.Finished(logger, read.Candles.Count);
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 1750, Level = LogLevel.Error, Message = "Replay file problem: {Problem}")]
        public static partial void Problem(ILogger logger, string problem);

        [LoggerMessage(EventId = 1751, Level = LogLevel.Critical,
            Message = "Not replaying {Path}: {Count} problems (fix them, or set Ingest:Replay:SkipInvalid=true to replay the valid candles)")]
        public static partial void Refused(ILogger logger, string path, int count);

        [LoggerMessage(EventId = 1752, Level = LogLevel.Information,
            Message = "Replaying {Candles} candles from {Path} ({Skipped} invalid lines skipped) at speed {Speed} (0 = as fast as possible)")]
        public static partial void Starting(ILogger logger, int candles, string path, int skipped, double speed);

        [LoggerMessage(EventId = 1753, Level = LogLevel.Information, Message = "Replay finished after {Candles} candles")]
        public static partial void Finished(ILogger logger, int candles);
    }
}
