using System.Diagnostics.Metrics;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using SignalStream.Contracts;

namespace SignalStream.Ingest.Simulated;

/// <summary>
/// The <c>simulated</c> source: writes warm-up history, then runs <see cref="MarketSimulator"/> on a market clock
/// that moves <see cref="SimulatedSourceOptions.Speed"/> times faster than the wall clock.
/// </summary>
/// <remarks>
/// Candle times are on the market clock, which starts at the wall clock's now, or just after the newest stored candle
/// when an earlier run got further (<see cref="IStreamResumePoints"/>: at Speed &gt; 1 the market outruns the wall
/// clock, and a restart must continue it, not close the same candle times again); <see cref="CandleUpdate.EventTime"/>
/// and <see cref="CandleUpdate.ReceivedAt"/> are the wall clock at emission, so latency metrics measure this process.
/// When the process falls behind (a high speed on a busy machine) it skips in-progress updates, never closes.
/// </remarks>
internal sealed partial class SimulatedCandleSource(
    IOptions<IngestOptions> ingestOptions,
    IOptions<SimulatedSourceOptions> options,
    TimeProvider timeProvider,
    IMeterFactory meterFactory,
    CandleUpdateChannel channel,
    ILogger<SimulatedCandleSource> logger,
    IStreamResumePoints? resumePoints = null) : ICandleSource
{
    public const string ExchangeName = "simulated";

    private readonly IngestMetrics _metrics = new(meterFactory, channel, ExchangeName);

    public string Exchange => ExchangeName;

    /// <summary>Now, or the close of the newest stored candle of any stream when that is later.</summary>
    private long ResumeTime(IngestOptions ingest, long now)
    {
        var resume = now;
        if (resumePoints is null)
        {
            return resume;
        }

        foreach (var stream in ingest.ResolvedStreams())
        {
            if (resumePoints.TryGetLastClosedOpenTime(stream, out var openTime))
            {
                resume = Math.Max(resume, stream.Timeframe.NextOpenTime(openTime));
            }
        }

        return resume;
    }

    public async Task RunAsync(CandleUpdateChannel output, CancellationToken cancellationToken)
    {
        var ingest = ingestOptions.Value;
        var settings = options.Value;
        var simulator = new MarketSimulator(ingest.ResolvedSymbols(), ingest.ResolvedTimeframes(), settings.Seed);
        var closed = new List<Candle>(simulator.Symbols.Count * simulator.Timeframes.Count);

        // History up to now, so features are warm before the first live close.
        var marketStart = simulator.Begin(ResumeTime(ingest, timeProvider.GetUtcNow().ToUnixTimeMilliseconds()), ingest.WarmupCandles);
        var history = 0;
        while (simulator.MarketTime < marketStart)
        {
            closed.Clear();
            simulator.Step(closed);
            history += closed.Count;
            await WriteClosedAsync(output, closed, CandleOrigin.History, cancellationToken).ConfigureAwait(false);
        }

        Log.WarmedUp(logger, history, simulator.Symbols.Count * simulator.Timeframes.Count, simulator.StepMs, settings.Speed);

        var wallStart = timeProvider.GetUtcNow().ToUnixTimeMilliseconds();
        var phases = settings.ProgressUpdatesPerStep + 1;
        while (!cancellationToken.IsCancellationRequested)
        {
            var stepStart = simulator.MarketTime;
            var stepEndWall = WallTimeOf(stepStart + simulator.StepMs);
            for (var phase = 1; phase < phases; phase++)
            {
                var due = WallTimeOf(stepStart + (simulator.StepMs * phase / phases));
                var now = timeProvider.GetUtcNow().ToUnixTimeMilliseconds();
                if (now >= stepEndWall)
                {
                    break; // behind schedule: the close matters, the progress does not
                }

                await DelayUntilAsync(due, now, cancellationToken).ConfigureAwait(false);
                WriteProgress(output, simulator, (double)phase / phases);
            }

            await DelayUntilAsync(stepEndWall, timeProvider.GetUtcNow().ToUnixTimeMilliseconds(), cancellationToken).ConfigureAwait(false);
            closed.Clear();
            simulator.Step(closed);
            await WriteClosedAsync(output, closed, CandleOrigin.Simulated, cancellationToken).ConfigureAwait(false);
        }

        long WallTimeOf(long marketTime) => wallStart + (long)((marketTime - marketStart) / settings.Speed);
    }

    private async Task WriteClosedAsync(CandleUpdateChannel output, List<Candle> closed, CandleOrigin origin, CancellationToken cancellationToken)
    {
        foreach (var candle in closed)
        {
            var now = timeProvider.GetUtcNow().ToUnixTimeMilliseconds();
            await output.WriteClosedAsync(new CandleUpdate(ExchangeName, candle, true, now, now, origin), cancellationToken).ConfigureAwait(false);
            _metrics.MessageReceived(); // after the write: a write cancelled at shutdown emitted nothing
        }
    }

    private void WriteProgress(CandleUpdateChannel output, MarketSimulator simulator, double fraction)
    {
        var now = timeProvider.GetUtcNow().ToUnixTimeMilliseconds();
        for (var s = 0; s < simulator.Symbols.Count; s++)
        {
            for (var t = 0; t < simulator.Timeframes.Count; t++)
            {
                var candle = simulator.GetProgress(s, t, fraction);
                output.WriteProgress(new CandleUpdate(ExchangeName, candle, false, now, now, CandleOrigin.Simulated));
                _metrics.MessageReceived();
            }
        }
    }

    private Task DelayUntilAsync(long dueMs, long nowMs, CancellationToken cancellationToken) => dueMs > nowMs
        ? Task.Delay(TimeSpan.FromMilliseconds(dueMs - nowMs), timeProvider, cancellationToken)
        : Task.CompletedTask;

    private static partial class Log
    {
        [LoggerMessage(EventId = 1700, Level = LogLevel.Information,
            Message = "Simulated market warmed up: {HistoryCandles} history candles over {Streams} streams; step {StepMs} ms, speed {Speed}x")]
        public static partial void WarmedUp(ILogger logger, int historyCandles, int streams, long stepMs, double speed);
    }
}
