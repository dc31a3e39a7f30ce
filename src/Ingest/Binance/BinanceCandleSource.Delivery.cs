using SignalStream.Contracts;
using SignalStream.Ingest.Binance.Internal;

namespace SignalStream.Ingest.Binance;

/// <summary>Exactly-once, in-order delivery per stream: duplicates dropped, gaps and late closes filled from REST.</summary>
internal sealed partial class BinanceCandleSource
{
    /// <summary>Handles one kline frame of a stream owned by the calling connection (the only caller for that stream).</summary>
    internal ValueTask HandleKlineAsync(StreamTracker tracker, in ParsedFrame frame, long receivedAt, CancellationToken cancellationToken)
    {
        var candle = frame.Candle;
        var openTime = candle.OpenTime;
        if (openTime > tracker.CurrentOpenTime)
        {
            tracker.CurrentOpenTime = openTime;
        }

        if (tracker.LastClosedOpenTime == StreamTracker.None)
        {
            // No warm-up: the first frame seen is where this stream starts.
            if (!frame.IsClosed)
            {
                tracker.LastClosedOpenTime = tracker.PreviousOpenTime(openTime);
                _channel!.WriteProgress(Update(candle, false, frame.EventTime, receivedAt, CandleOrigin.Live));
                return ValueTask.CompletedTask;
            }

            return DeliverAsync(tracker, Update(candle, true, frame.EventTime, receivedAt, CandleOrigin.Live), cancellationToken);
        }

        if (openTime <= tracker.LastClosedOpenTime)
        {
            if (frame.IsClosed)
            {
                Metrics.DuplicateDropped();
            }

            // An in-progress frame of a candle already delivered closed is stale: nothing to do.
            return ValueTask.CompletedTask;
        }

        var update = Update(candle, frame.IsClosed, frame.EventTime, receivedAt, CandleOrigin.Live);
        if (openTime > tracker.NextExpectedOpenTime)
        {
            return FillGapThenHandleAsync(tracker, update, cancellationToken);
        }

        if (frame.IsClosed)
        {
            return DeliverAsync(tracker, update, cancellationToken);
        }

        _channel!.WriteProgress(update);
        return ValueTask.CompletedTask;
    }

    private async ValueTask FillGapThenHandleAsync(StreamTracker tracker, CandleUpdate update, CancellationToken cancellationToken)
    {
        // The exchange has moved past candles we never saw closed: they are final, so REST has them exactly.
        await BackfillAsync(tracker, tracker.NextExpectedOpenTime, tracker.PreviousOpenTime(update.Candle.OpenTime), "gap",
            cancellationToken).ConfigureAwait(false);
        if (update.IsClosed)
        {
            await DeliverAsync(tracker, update, cancellationToken).ConfigureAwait(false);
        }
        else
        {
            _channel!.WriteProgress(update);
        }
    }

    /// <summary>
    /// For each stream whose next candle should have closed more than the grace period ago on the exchange's own clock
    /// (the newest <c>E</c> on the connection), fetch the overdue candles from REST instead of waiting for their frames.
    /// </summary>
    /// <remarks>
    /// The exchange's clock, not ours, decides: a skewed local clock or a time-scaled test exchange cannot make a
    /// candle look due early, and frames of one connection arrive in order, so a close sent before the frames that
    /// moved the clock has always been seen already.
    /// </remarks>
    internal async ValueTask RecoverLateClosesAsync(StreamTracker[] trackers, long exchangeClock, CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref _lateScans);
        if (exchangeClock == long.MinValue)
        {
            return;
        }

        var limit = exchangeClock - (long)Options.ClosedCandleGracePeriod.TotalMilliseconds;
        foreach (var tracker in trackers)
        {
            var due = tracker.NextExpectedOpenTime;
            if (due == StreamTracker.None)
            {
                continue;
            }

            // The newest candle whose close time plus the grace period has passed.
            var lastOverdue = tracker.PreviousOpenTime(tracker.Key.Timeframe.OpenTimeOf(limit));
            if (lastOverdue >= due)
            {
                await BackfillAsync(tracker, due, lastOverdue, "late close", cancellationToken).ConfigureAwait(false);
            }
        }
    }

    private long _lateScans;

    /// <summary>Late-close scans run so far (tests wait for one to have seen a frame).</summary>
    internal long LateScans => Interlocked.Read(ref _lateScans);

    /// <summary>Delivers the closed candles opening in [from, to] from REST, paging, in order.</summary>
    private async Task BackfillAsync(StreamTracker tracker, long from, long to, string cause, CancellationToken cancellationToken)
    {
        var page = new List<Candle>(Math.Min(BinanceRestClient.MaxLimit, 64));
        var delivered = 0;
        var cursor = from;
        while (cursor <= to)
        {
            page.Clear();
            if (!await Rest.GetKlinesAsync(tracker.Key, cursor, tracker.Key.Timeframe.CloseTimeOf(to), BinanceRestClient.MaxLimit,
                    page, cancellationToken).ConfigureAwait(false))
            {
                break;
            }

            foreach (var candle in page)
            {
                if (candle.OpenTime > tracker.LastClosedOpenTime && candle.OpenTime >= cursor && candle.OpenTime <= to)
                {
                    await DeliverAsync(tracker, Update(candle, true, candle.CloseTime + 1, Time.GetUtcNow().ToUnixTimeMilliseconds(),
                        CandleOrigin.Backfill), cancellationToken).ConfigureAwait(false);
                    delivered++;
                }
            }

            if (page.Count < BinanceRestClient.MaxLimit)
            {
                break;
            }

            cursor = tracker.Key.Timeframe.NextOpenTime(page[^1].OpenTime);
        }

        if (tracker.LastClosedOpenTime < to)
        {
            // Binance has no kline for the rest of the range (a trading halt, or the symbol is gone): move past it
            // rather than stall the stream, and say so.
            Log.GapNotInHistory(Logger, tracker.Key, Math.Max(from, tracker.NextExpectedOpenTime), to);
            tracker.LastClosedOpenTime = to;
        }

        if (delivered > 0)
        {
            Metrics.Backfilled(delivered);
            Log.Backfilled(Logger, delivered, tracker.Key, cause);
        }
    }

    private async ValueTask DeliverAsync(StreamTracker tracker, CandleUpdate update, CancellationToken cancellationToken)
    {
        await _channel!.WriteClosedAsync(update, cancellationToken).ConfigureAwait(false);
        tracker.LastClosedOpenTime = update.Candle.OpenTime;
    }

    /// <summary>
    /// Loads <see cref="IngestOptions.WarmupCandles"/> closed candles per stream, newest last, as history. After a
    /// restart, the candles past the stream's stored watermark (<see cref="IStreamResumePoints"/>: closed while the node
    /// was down, or in flight at a crash) are not history but backfill, decided like any other, up to
    /// <see cref="IngestOptions.ResumeBackfillCandles"/> of them; the history before them is still loaded, for the features.
    /// </summary>
    private async Task WarmupAsync(List<StreamTracker> trackers, CancellationToken cancellationToken)
    {
        var want = _ingest.WarmupCandles;
        if (trackers.Count == 0 || (want == 0 && _resumePoints is null))
        {
            return;
        }

        long total = 0;
        await Parallel.ForEachAsync(trackers,
            new ParallelOptions { MaxDegreeOfParallelism = Options.RestParallelism, CancellationToken = cancellationToken },
            async (tracker, ct) =>
            {
                long? stored = _resumePoints is not null && _resumePoints.TryGetLastClosedOpenTime(tracker.Key, out var openTime) ? openTime : null;
                if (want == 0 && stored is null)
                {
                    return;
                }

                var candles = await LoadNewestAsync(tracker, want, stored, ct).ConfigureAwait(false);
                var resumed = stored is { } watermark ? candles.Count(c => c.OpenTime > watermark) : 0;
                var decide = Math.Min(resumed, _ingest.ResumeBackfillCandles);
                var firstDecided = candles.Count - decide;
                if (resumed > decide)
                {
                    // Down longer than the bound: the oldest of the missed candles feed the features only, and say so.
                    Log.ResumeGapTooLong(Logger, tracker.Key, stored!.Value, candles[firstDecided - 1].OpenTime, _ingest.ResumeBackfillCandles);
                }

                for (var i = 0; i < candles.Count; i++)
                {
                    var candle = candles[i];
                    if (candle.OpenTime > tracker.LastClosedOpenTime)
                    {
                        var origin = i >= firstDecided ? CandleOrigin.Backfill : CandleOrigin.History;
                        await DeliverAsync(tracker, Update(candle, true, candle.CloseTime + 1,
                            Time.GetUtcNow().ToUnixTimeMilliseconds(), origin), ct).ConfigureAwait(false);
                    }
                }

                if (decide > 0)
                {
                    Metrics.Backfilled(decide);
                    Log.Backfilled(Logger, decide, tracker.Key, "restart");
                }

                Interlocked.Add(ref total, candles.Count);
            }).ConfigureAwait(false);
        Log.WarmupDone(Logger, total, trackers.Count);
    }

    /// <summary>
    /// The newest closed candles of a stream from REST, oldest first: <paramref name="want"/> of them, or, after a restart
    /// (<paramref name="stored"/>), everything past the stored watermark (up to the resume bound) with
    /// <paramref name="want"/> before it. The newest kline REST returns may still be in progress, so it is never used:
    /// the live stream's first frame after it brings it as a gap.
    /// </summary>
    private async Task<List<Candle>> LoadNewestAsync(StreamTracker tracker, int want, long? stored, CancellationToken cancellationToken)
    {
        // Pages back from the newest, by the exchange's own history (the local clock may disagree with it): the warm-up
        // first; after a restart, on until the stored watermark and the warm-up before it are in, at most the resume bound past it.
        var candles = new List<Candle>();
        var limit = want + 1 + (stored is null ? 0 : _ingest.ResumeBackfillCandles);
        var asked = want + 1;
        var before = 0;
        long? endTime = null;
        while ((asked = Math.Min(asked, Math.Min(limit - candles.Count, BinanceRestClient.MaxLimit))) > 0)
        {
            var page = new List<Candle>();
            if (!await Rest.GetKlinesAsync(tracker.Key, null, endTime, asked, page, cancellationToken).ConfigureAwait(false) || page.Count == 0)
            {
                break;
            }

            candles.InsertRange(0, page);
            endTime = page[0].OpenTime - 1;
            if (page.Count < asked)
            {
                break;
            }

            if (stored is not { } watermark)
            {
                asked = limit - candles.Count;
                continue;
            }

            before += page.Count(c => c.OpenTime <= watermark);
            if (before > 0 && before >= want)
            {
                break;
            }

            asked = before > 0 ? want - before : BinanceRestClient.MaxLimit;
        }

        if (candles.Count > 0)
        {
            candles.RemoveAt(candles.Count - 1);
        }

        return candles;
    }

    private static CandleUpdate Update(in Candle candle, bool closed, long eventTime, long receivedAt, CandleOrigin origin) =>
        new(ExchangeName, candle, closed, eventTime, receivedAt, origin);
}
