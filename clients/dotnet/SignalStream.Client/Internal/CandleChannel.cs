using Microsoft.Extensions.Logging;
using SignalStream.Contracts;

namespace SignalStream.Client.Internal;

/// <summary>
/// One candle stream of a client and the handlers that share it. Live <c>candle</c> events are not replayed by the
/// server, so after a reconnect the closed candles sent meanwhile are fetched from <c>/api/candles</c> after the last one
/// delivered, page by page, while live ones are held; then the held ones follow: each closed candle once, in openTime
/// order, a candle at or before the last closed one dropped (stale or repeated). The same rules as the TypeScript SDK
/// (clients/typescript/src/candles.ts, docs/sdk.md).
/// </summary>
/// <remarks>
/// A closed candle goes out live before it is stored, so one sent just before the re-subscribe can be missing from the
/// store when it is read: a held (or the first live) closed candle more than a bar past the last delivered one is taken
/// as that, and the store read again after each recovery delay; after the last one the hole is the exchange's.
/// </remarks>
internal sealed class CandleChannel(string symbol, Timeframe timeframe, ICandlePages pages, IReadOnlyList<TimeSpan> retryDelays, ILogger logger, CancellationToken closing)
{
    /// <summary>Live closed candles held while the ones before them are fetched; newer ones past it are fetched after.</summary>
    public const int MaxHeld = 1024;

    private readonly Lock _gate = new();
    private readonly List<CandleHandlers> _handlers = [];
    private readonly List<CandleMessage> _held = [];
    private long _lastClosedOpenTime = long.MinValue;
    private long? _firstProgressOpenTime; // the bar of the first in-progress update delivered before any close: its close is owed
    private CandleMessage? _heldProgress; // only the newest in-progress update is worth keeping
    private bool _recovering;
    private bool _heldOverflow;
    private bool _verifyNextClosed;
    private bool _closed;
    private int _generation; // +1 per recovery: one overtaken by a newer one (or the close) stops at its next step

    public string Symbol { get; } = symbol;

    public Timeframe Timeframe { get; } = timeframe;

    public CandleHandlers Add(CandleHandlers handlers)
    {
        lock (_gate)
        {
            _handlers.Add(handlers);
        }

        return handlers;
    }

    /// <summary>Removes a handler; true when it was the last one (the channel is closed then).</summary>
    public bool Remove(CandleHandlers handlers)
    {
        lock (_gate)
        {
            if (!_handlers.Remove(handlers) || _handlers.Count > 0)
            {
                return false;
            }

            _closed = true;
            _generation++;
            return true;
        }
    }

    public void Close()
    {
        lock (_gate)
        {
            _closed = true;
            _generation++;
        }
    }

    /// <summary>Call before re-subscribing after a reconnect: live candles are held until the missed ones are fetched.</summary>
    public void BeginRecovery()
    {
        lock (_gate)
        {
            if (_closed || ResumeAfter() is null)
            {
                return; // nothing delivered yet: nothing can be owed
            }

            _recovering = true;
            _generation++;
            _verifyNextClosed = false;
        }
    }

    /// <summary>The re-subscribe was accepted: fetch what was missed.</summary>
    public void Recover()
    {
        int generation;
        lock (_gate)
        {
            if (!_recovering || _closed)
            {
                return;
            }

            generation = _generation;
        }

        _ = RunAsync(generation);
    }

    /// <summary>The re-subscribe was refused: nothing more comes live, so what is held is delivered and the refusal reported.</summary>
    public void AbandonRecovery(Exception error)
    {
        lock (_gate)
        {
            if (!_recovering)
            {
                return;
            }

            _generation++;
            Finish();
            Fail(error);
        }
    }

    public void OnCandle(CandleMessage candle)
    {
        int? recovery = null;
        lock (_gate)
        {
            if (_closed)
            {
                return;
            }

            if (_recovering)
            {
                Hold(candle);
                return;
            }

            if (candle.IsClosed && _verifyNextClosed && candle.OpenTime > _lastClosedOpenTime)
            {
                _verifyNextClosed = false;
                if (candle.OpenTime > ExpectedNextClosed())
                {
                    // Closed before the re-subscribe, it was not sent here, and it was not stored yet when the recovery read.
                    _recovering = true;
                    Hold(candle);
                    recovery = ++_generation;
                }
            }

            if (recovery is null)
            {
                Deliver(candle);
            }
        }

        if (recovery is { } generation)
        {
            _ = RunAsync(generation);
        }
    }

    private async Task RunAsync(int generation)
    {
        var attempt = 0;
        while (true)
        {
            long after;
            lock (_gate)
            {
                if (generation != _generation)
                {
                    return;
                }

                after = ResumeAfter()!.Value;
            }

            IReadOnlyList<CandleMessage> page;
            try
            {
                page = await pages.ReadAsync(Symbol, Timeframe, after, closing).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (closing.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex) when (ex is not OutOfMemoryException)
            {
                // The read is the only I/O here: a server error, a network failure, an HttpClient timeout, a bad body.
                if (attempt < retryDelays.Count)
                {
                    if (!await WaitAsync(retryDelays[attempt++], generation).ConfigureAwait(false))
                    {
                        return;
                    }

                    continue;
                }

                lock (_gate)
                {
                    if (generation == _generation)
                    {
                        Finish();
                        var gap = new CandleGapException(new CandleGap(Symbol, Timeframe.ToName(), after, ex.Message));
                        SignalStreamClient.Log.CandleGap(logger, gap.Message);
                        Fail(gap);
                    }
                }

                return;
            }

            lock (_gate)
            {
                if (generation != _generation)
                {
                    return;
                }

                foreach (var candle in page)
                {
                    Deliver(candle with { IsClosed = true });
                }

                if (page.Count >= SignalStreamApi.MaxLimit && page[^1].OpenTime > after)
                {
                    continue; // more pages
                }

                // The store's end. A held closed candle past the next expected one: the one before it may not be stored yet.
                var waitForStore = attempt < retryDelays.Count && FirstHeldAfterLastClosed() is { } first && first.OpenTime > ExpectedNextClosed();
                if (!waitForStore)
                {
                    var overflowed = _heldOverflow;
                    var sawLiveClose = _held.Count > 0 || overflowed;
                    DeliverHeld();
                    if (overflowed)
                    {
                        attempt = 0;
                        continue; // the ones not held are newer than those just delivered: fetch them
                    }

                    Finish();
                    _verifyNextClosed = !sawLiveClose;
                    return;
                }
            }

            if (!await WaitAsync(retryDelays[attempt++], generation).ConfigureAwait(false))
            {
                return;
            }
        }
    }

    /// <summary>True after <paramref name="delay"/> when the recovery is still the current one.</summary>
    private async Task<bool> WaitAsync(TimeSpan delay, int generation)
    {
        try
        {
            await Task.Delay(delay, closing).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            return false; // the client was closed
        }

        lock (_gate)
        {
            return generation == _generation;
        }
    }

    private void Hold(CandleMessage candle)
    {
        if (!candle.IsClosed)
        {
            _heldProgress = candle;
        }
        else if (_held.Count < MaxHeld)
        {
            _held.Add(candle);
        }
        else
        {
            _heldOverflow = true; // newer than every held one: fetched once those are delivered
        }
    }

    private CandleMessage? FirstHeldAfterLastClosed()
    {
        foreach (var candle in _held)
        {
            if (candle.OpenTime > _lastClosedOpenTime)
            {
                return candle;
            }
        }

        return null;
    }

    /// <summary>Delivers what is held and returns to live delivery.</summary>
    private void Finish()
    {
        DeliverHeld();
        _recovering = false;
        if (_heldProgress is { } progress)
        {
            _heldProgress = null;
            Deliver(progress);
        }
    }

    private void DeliverHeld()
    {
        _held.Sort(static (a, b) => a.OpenTime.CompareTo(b.OpenTime));
        foreach (var candle in _held)
        {
            Deliver(candle);
        }

        _held.Clear();
        _heldOverflow = false;
    }

    /// <summary>Every closed candle after this openTime is owed to the application; null before anything was delivered.</summary>
    private long? ResumeAfter() =>
        _lastClosedOpenTime != long.MinValue ? _lastClosedOpenTime : _firstProgressOpenTime - 1;

    /// <summary>The openTime the next closed candle has when none is missing.</summary>
    private long ExpectedNextClosed()
    {
        if (_lastClosedOpenTime == long.MinValue)
        {
            return _firstProgressOpenTime!.Value;
        }

        return Timeframe.FixedDuration() is { } bar
            ? _lastClosedOpenTime + (long)bar.TotalMilliseconds
            : DateTimeOffset.FromUnixTimeMilliseconds(_lastClosedOpenTime).AddMonths(1).ToUnixTimeMilliseconds();
    }

    private void Deliver(CandleMessage candle)
    {
        if (candle.OpenTime <= _lastClosedOpenTime)
        {
            return;
        }

        if (candle.IsClosed)
        {
            _lastClosedOpenTime = candle.OpenTime;
        }
        else
        {
            _firstProgressOpenTime ??= candle.OpenTime;
        }

        foreach (var handlers in _handlers)
        {
            try
            {
                handlers.OnCandle(candle);
            }
            catch (Exception ex) when (ex is not OutOfMemoryException)
            {
                FailOne(handlers, new InvalidOperationException($"onCandle threw for {Symbol}@{Timeframe.ToName()}: {ex.Message}", ex));
            }
        }
    }

    private void Fail(Exception error)
    {
        foreach (var handlers in _handlers)
        {
            FailOne(handlers, error);
        }
    }

    private void FailOne(CandleHandlers handlers, Exception error)
    {
        if (handlers.OnError is null)
        {
            SignalStreamClient.Log.HandlerFailed(logger, error, error.Message);
            return;
        }

        try
        {
            handlers.OnError(error);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            SignalStreamClient.Log.HandlerFailed(logger, ex, $"onError threw: {ex.Message}");
        }
    }
}
