using System.Collections.Concurrent;
using System.Diagnostics.CodeAnalysis;
using System.Threading.Channels;
using SignalStream.Contracts;

namespace SignalStream.Ingest;

/// <summary>
/// The hand-off from sources to the engine. Closed candles are never dropped: when the bound is reached their
/// writers wait (back-pressure). In-progress updates never wait: each stream keeps only its newest one, and one that
/// is not newer than the stream's last delivered closed candle is discarded, and one is never delivered ahead of a
/// closed candle of its stream that was written before it, so they can neither block nor reorder closed candles.
/// </summary>
[SuppressMessage("Design", "CA1001:Types that own disposable fields should be disposable", Justification = "Its SemaphoreSlim is only awaited (no AvailableWaitHandle), so it holds nothing to release; a Dispose would only turn a late Release into ObjectDisposedException.")]
public sealed class CandleUpdateChannel
{
    private readonly Channel<Entry> _queue;
    private readonly SemaphoreSlim _closedCapacity;
    private readonly ConcurrentDictionary<StreamKey, ProgressSlot> _slots = new();
    private readonly Func<StreamKey, ProgressSlot> _newSlot = static _ => new ProgressSlot();
    private readonly TimeProvider _time;
    private int _closedQueued;
    private long _lastWrite;

    /// <param name="closedCapacity">How many closed candles may wait before writers are held back.</param>
    /// <param name="time">The clock of <see cref="SinceLastWrite"/>; the system clock when null.</param>
    public CandleUpdateChannel(int closedCapacity = 65_536, TimeProvider? time = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(closedCapacity, 1);
        ClosedCapacity = closedCapacity;
        _time = time ?? TimeProvider.System;
        _lastWrite = _time.GetTimestamp();
        _closedCapacity = new SemaphoreSlim(closedCapacity, closedCapacity);

        // Unbounded in type only: it holds at most closedCapacity closed entries plus one progress marker per stream.
        _queue = Channel.CreateUnbounded<Entry>(new UnboundedChannelOptions { SingleReader = true });
    }

    /// <summary>The bound on queued closed candles.</summary>
    public int ClosedCapacity { get; }

    /// <summary>Closed candles queued now (a metric: the channel depth).</summary>
    public int ClosedQueued => Volatile.Read(ref _closedQueued);

    /// <summary>Time since a source last wrote an update (closed or in progress), or since the channel was made.</summary>
    public TimeSpan SinceLastWrite => _time.GetElapsedTime(Volatile.Read(ref _lastWrite));

    /// <summary>Queues a closed candle, waiting while the channel is full.</summary>
    public async ValueTask WriteClosedAsync(CandleUpdate update, CancellationToken cancellationToken = default)
    {
        if (!update.IsClosed)
        {
            throw new ArgumentException("WriteClosedAsync takes closed candles only; use WriteProgress.", nameof(update));
        }

        await _closedCapacity.WaitAsync(cancellationToken).ConfigureAwait(false);
        Volatile.Write(ref _lastWrite, _time.GetTimestamp());
        var slot = _slots.GetOrAdd(update.Candle.Stream, _newSlot);
        lock (slot)
        {
            if (update.Candle.OpenTime > slot.LastClosedWritten)
            {
                slot.LastClosedWritten = update.Candle.OpenTime;
            }
        }

        Interlocked.Increment(ref _closedQueued);
        if (!_queue.Writer.TryWrite(new Entry(update, null)))
        {
            Interlocked.Decrement(ref _closedQueued);
            _closedCapacity.Release();
            throw new ChannelClosedException("The candle channel is completed.");
        }
    }

    /// <summary>Offers an in-progress update; it replaces any undelivered one of the same stream. Never waits.</summary>
    public void WriteProgress(in CandleUpdate update)
    {
        if (update.IsClosed)
        {
            throw new ArgumentException("WriteProgress takes in-progress candles only; use WriteClosedAsync.", nameof(update));
        }

        Volatile.Write(ref _lastWrite, _time.GetTimestamp());
        var slot = _slots.GetOrAdd(update.Candle.Stream, _newSlot);
        lock (slot)
        {
            slot.Latest = update;
            if (slot.Pending)
            {
                return;
            }

            slot.Pending = true;
        }

        // A completed channel refuses the marker; progress is best-effort by design, so there is nothing to undo.
        _queue.Writer.TryWrite(new Entry(default, slot));
    }

    /// <summary>Waits until an update may be available; false once the channel is completed and drained.</summary>
    public ValueTask<bool> WaitToReadAsync(CancellationToken cancellationToken = default) =>
        _queue.Reader.WaitToReadAsync(cancellationToken);

    /// <summary>Takes the next update, if any. Single reader.</summary>
    public bool TryRead(out CandleUpdate update)
    {
        while (_queue.Reader.TryRead(out var entry))
        {
            if (entry.Slot is null)
            {
                Interlocked.Decrement(ref _closedQueued);
                _closedCapacity.Release();
                update = entry.Closed;
                var slot = _slots.GetOrAdd(update.Candle.Stream, _newSlot);
                lock (slot)
                {
                    if (update.Candle.OpenTime > slot.LastClosedOpenTime)
                    {
                        slot.LastClosedOpenTime = update.Candle.OpenTime;
                    }
                }

                return true;
            }

            var requeue = false;
            lock (entry.Slot)
            {
                update = entry.Slot.Latest;
                if (update.Candle.OpenTime <= entry.Slot.LastClosedOpenTime)
                {
                    // Older than (or the same candle as) a closed one already delivered: stale, drop it.
                    entry.Slot.Pending = false;
                    continue;
                }

                if (entry.Slot.LastClosedWritten > entry.Slot.LastClosedOpenTime)
                {
                    // Closed candles of this stream are still queued behind this marker; delivering the newer
                    // in-progress state now would show the engine candle t+1 before closed candle t. Move the
                    // marker behind them instead (it stays Pending, so writers keep coalescing into it).
                    requeue = true;
                }
                else
                {
                    entry.Slot.Pending = false;
                    return true;
                }
            }

            if (requeue && !_queue.Writer.TryWrite(entry))
            {
                // Completed: the queued closed candles still drain; the in-progress state is best-effort.
                lock (entry.Slot)
                {
                    entry.Slot.Pending = false;
                }
            }
        }

        update = default;
        return false;
    }

    /// <summary>Reads updates until the channel completes or <paramref name="cancellationToken"/> fires.</summary>
    public async IAsyncEnumerable<CandleUpdate> ReadAllAsync(
        [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        while (await WaitToReadAsync(cancellationToken).ConfigureAwait(false))
        {
            while (TryRead(out var update))
            {
                yield return update;
            }
        }
    }

    /// <summary>No more writes; the reader drains what is queued, then sees the end.</summary>
    public void Complete() => _queue.Writer.TryComplete();

    private readonly record struct Entry(CandleUpdate Closed, ProgressSlot? Slot);

    private sealed class ProgressSlot
    {
        public CandleUpdate Latest;
        public bool Pending;
        public long LastClosedOpenTime = long.MinValue;
        public long LastClosedWritten = long.MinValue;
    }
}
