using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using SignalStream.Contracts;
using SignalStream.Engine.Events;
using SignalStream.Engine.Signals;

namespace SignalStream.EventStore;

/// <summary>
/// At start, before the engine reads its first candle: loads each stream's newest stored candle into the
/// <see cref="CandleWatermarks"/> (so nothing is stored or signalled twice after a restart), and replays every stored
/// signal, shadow signal and outcome of the served symbols into the signal stage (so signals open at a restart resolve
/// on later candles again, and the journal's statistics carry on where they stopped).
/// </summary>
/// <remarks>
/// Reads the per-symbol streams rather than the global log, so start-up cost grows with signals, not with candles.
/// The server starts it in its own stage, before ingest and the engine (SignalStreamHost's stages, NodeStartup), which is
/// what makes "before the first candle" hold.
/// </remarks>
public sealed partial class EngineStateLoader(
    IEventStore store,
    ISignalStateRestore? restore,
    CandleWatermarks watermarks,
    IReadOnlyList<StreamKey> streams,
    ILogger<EngineStateLoader> logger) : IHostedService
{
    private const int PageSize = 1_000;

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        await store.InitializeAsync(cancellationToken).ConfigureAwait(false);
        await LoadWatermarksAsync(cancellationToken).ConfigureAwait(false);
        if (restore is not null)
        {
            await RestoreSignalStageAsync(restore, cancellationToken).ConfigureAwait(false);
        }
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    private async Task LoadWatermarksAsync(CancellationToken cancellationToken)
    {
        var loaded = 0;
        foreach (var stream in streams)
        {
            var newest = await store.ReadStreamBackwardAsync(EventStreams.Candles(stream), 1, cancellationToken).ConfigureAwait(false);
            if (newest.Count > 0 && Decode(newest[0]) is CandleClosed closed)
            {
                watermarks.Advance(stream, closed.Candle.OpenTime);
                loaded++;
            }
        }

        Log.Watermarks(logger, loaded, streams.Count);
    }

    private async Task RestoreSignalStageAsync(ISignalStateRestore restore, CancellationToken cancellationToken)
    {
        var symbols = streams.Select(s => s.Symbol).Distinct(StringComparer.Ordinal).ToList();
        int signals = 0, shadows = 0, outcomes = 0, unreadable = 0;
        foreach (var symbol in symbols)
        {
            // Outcomes first, in their stored order (the journal's maximum drawdown depends on it). The stage then skips
            // each resolved signal as it reads it and keeps only the open ones; signals first made it open every stored
            // signal and close them one by one, a linear search and shift each: quadratic in a stream's history
            // (BENCHMARKS.md, "Performance statistics": 100k outcomes 5.5 s of CPU more, 1M not done in 25 minutes).
            // Live and shadow outcomes are scored in separate groups, so reading their two streams one after the other
            // keeps every group's order.
            foreach (var outcomeStream in new[] { EventStreams.Outcomes(symbol), EventStreams.ShadowOutcomes(symbol) })
            {
                await foreach (var stored in ReadAllAsync(outcomeStream, cancellationToken).ConfigureAwait(false))
                {
                    if (Decode(stored) is SignalResolved resolved)
                    {
                        restore.RestoreOutcome(resolved.Outcome);
                        outcomes++;
                    }
                    else
                    {
                        unreadable++;
                    }
                }
            }

            await foreach (var stored in ReadAllAsync(EventStreams.Signals(symbol), cancellationToken).ConfigureAwait(false))
            {
                if (Decode(stored) is SignalIssued issued)
                {
                    restore.RestoreSignal(issued.Signal, isShadow: false);
                    MarkDecided(issued.Signal);
                    signals++;
                }
                else
                {
                    unreadable++;
                }
            }

            await foreach (var stored in ReadAllAsync(EventStreams.ShadowSignals(symbol), cancellationToken).ConfigureAwait(false))
            {
                if (Decode(stored) is ShadowSignalIssued shadow)
                {
                    restore.RestoreSignal(shadow.Signal, isShadow: true);
                    MarkDecided(shadow.Signal);
                    shadows++;
                }
                else
                {
                    unreadable++;
                }
            }
        }

        restore.RestoreCompleted();
        Log.Restored(logger, signals, shadows, outcomes, symbols.Count);
        if (unreadable > 0)
        {
            Log.Unreadable(logger, unreadable);
        }
    }

    /// <summary>
    /// A stored signal decided on a candle's close says that candle was decided, even when the crash came before the
    /// candle's own commit (its signal commits first): offered again, the candle is stored but not decided twice.
    /// Everything queued before the signal in its symbol's lane, the outcomes that candle resolved included, committed
    /// with or before it. An alert's signal names the candle in progress when it came, so it says nothing of the kind.
    /// </summary>
    private void MarkDecided(Signal signal)
    {
        if (SignalIds.IsCandleDecision(signal))
        {
            watermarks.AdvanceDecided(new StreamKey(signal.Symbol, signal.Timeframe), signal.CandleOpenTime);
        }
    }

    private async IAsyncEnumerable<StoredEvent> ReadAllAsync(
        string streamId,
        [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var from = 1L;
        while (true)
        {
            var page = await store.ReadStreamAsync(streamId, from, PageSize, cancellationToken).ConfigureAwait(false);
            foreach (var stored in page)
            {
                yield return stored;
            }

            if (page.Count < PageSize)
            {
                yield break;
            }

            from = page[^1].Version + 1;
        }
    }

    private ISignalStreamEvent? Decode(StoredEvent stored)
    {
        if (EventSerializer.TryDeserialize(stored, out var @event, out var error))
        {
            return @event;
        }

        Log.Undecodable(logger, stored.StreamId, stored.Version, error);
        return null;
    }
}
