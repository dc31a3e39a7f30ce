using System.Security.Cryptography;
using System.Text;
using SignalStream.Contracts;
using SignalStream.Engine.Events;
using SignalStream.EventStore;

namespace SignalStream.Hub.Notifications.Internal;

internal sealed partial class SinkRunner
{
    private const int ReadPage = 64;

    private async Task LoadAsync(CancellationToken stopping)
    {
        var delay = TimeSpan.FromMilliseconds(200);
        for (var i = 0; i < _symbols.Length;)
        {
            try
            {
                await _store.InitializeAsync(stopping).ConfigureAwait(false);
                var restored = await SinkRestore.LoadAsync(_store, _settings.Label, _symbols[i], stopping).ConfigureAwait(false);
                if (restored.IsNew)
                {
                    // A new sink starts at what is stored now (it does not replay history), and says so in the store
                    // first, so a notification pending at a crash right after is found by the next start.
                    var signals = await _store.GetStreamVersionAsync(EventStreams.Signals(_symbols[i]), stopping).ConfigureAwait(false);
                    var outcomes = await _store.GetStreamVersionAsync(EventStreams.Outcomes(_symbols[i]), stopping).ConfigureAwait(false);
                    _states[i] = new SymbolState(_symbols[i], new SourceProgress(signals), new SourceProgress(outcomes));
                    var record = NewRecord(i, NotificationRecords.Cursor);
                    var result = await _store.AppendAsync(
                        [new StreamAppend(NotificationRecords.Stream(_settings.Label, _symbols[i]), NotificationRecords.StreamType, ExpectedVersions.NoStream, [NotificationRecords.Serialize(record, _time.GetUtcNow())])],
                        stopping).ConfigureAwait(false);
                    if (!result.IsCommitted)
                    {
                        // Another start wrote the first record meanwhile: load what it wrote.
                        continue;
                    }
                }
                else
                {
                    _states[i] = new SymbolState(_symbols[i], restored.Signals, restored.Outcomes);
                    Log.Resumed(_logger, _settings.Name, _symbols[i], restored.Signals.Settled + 1, restored.Outcomes.Settled + 1, restored.Pending);
                }

                Volatile.Write(ref _dirty[i], 1);
                i++;
                delay = TimeSpan.FromMilliseconds(200);
            }
            catch (Exception ex) when (!stopping.IsCancellationRequested && ex is not OperationCanceledException)
            {
                Log.StoreFailed(_logger, _settings.Name, "loading progress of " + _symbols[i], delay, ex);
                await Task.Delay(delay, _time, stopping).ConfigureAwait(false);
                delay = Min(delay * 2, StoreRetryMax);
            }
        }
    }

    private async Task ReadLoopAsync(CancellationToken stopping)
    {
        var nextPoll = _time.GetTimestamp() + Ticks(_pollInterval);
        var storeDelay = TimeSpan.FromMilliseconds(200);
        while (!stopping.IsCancellationRequested)
        {
            var now = _time.GetTimestamp();
            if (now >= nextPoll)
            {
                nextPoll = now + Ticks(_pollInterval);
                for (var i = 0; i < _dirty.Length; i++)
                {
                    Volatile.Write(ref _dirty[i], 1);
                }
            }

            ReleaseDueRetries();
            var nextCheck = long.MaxValue;
            try
            {
                for (var i = 0; i < _symbols.Length; i++)
                {
                    var state = _states[i];
                    var hot = state.HotUntil > now;
                    if (Interlocked.Exchange(ref _dirty[i], 0) == 1 || (hot && state.NextCheck <= now))
                    {
                        await ReadSymbolAsync(i, stopping).ConfigureAwait(false);
                        if (hot)
                        {
                            state.NextCheck = now + state.RecheckInterval;
                            state.RecheckInterval = Math.Min(state.RecheckInterval * 2, Ticks(LastRecheck));
                        }
                    }

                    if (state.HotUntil > now)
                    {
                        nextCheck = Math.Min(nextCheck, state.NextCheck);
                    }
                }

                storeDelay = TimeSpan.FromMilliseconds(200);
            }
            catch (Exception ex) when (!stopping.IsCancellationRequested && ex is not OperationCanceledException)
            {
                Log.StoreFailed(_logger, _settings.Name, "reading signals", storeDelay, ex);
                for (var i = 0; i < _dirty.Length; i++)
                {
                    Volatile.Write(ref _dirty[i], 1);
                }

                await Task.Delay(storeDelay, _time, stopping).ConfigureAwait(false);
                storeDelay = Min(storeDelay * 2, StoreRetryMax);
                continue;
            }

            // Sleep until a wake-up, the next due retry, a hot symbol's re-check or the poll, whichever comes first.
            var wait = Duration(Math.Min(nextPoll, nextCheck) - _time.GetTimestamp());
            lock (_gate)
            {
                if (_retries.TryPeek(out _, out var due))
                {
                    wait = Min(wait, TimeSpan.FromMilliseconds(Math.Max(0, due - _time.GetUtcNow().ToUnixTimeMilliseconds())));
                }
            }

            if (wait > TimeSpan.Zero)
            {
                await SleepAsync(wait, stopping).ConfigureAwait(false);
            }
        }
    }

    private void ReleaseDueRetries()
    {
        var now = _time.GetUtcNow().ToUnixTimeMilliseconds();
        lock (_gate)
        {
            while (_retries.TryPeek(out var delivery, out var due) && due <= now)
            {
                _retries.Dequeue();
                _ready.Writer.TryWrite(delivery);
            }
        }
    }

    /// <summary>Reads what is new for one symbol, as far as the memory bound and the window allow.</summary>
    private async Task ReadSymbolAsync(int index, CancellationToken stopping)
    {
        await ReadSourceAsync(index, isOutcome: false, stopping).ConfigureAwait(false);
        await ReadSourceAsync(index, isOutcome: true, stopping).ConfigureAwait(false);
        lock (_gate)
        {
            // Long stretches of signals this sink does not take are recorded now and then, so a restart need not re-read them.
            var state = _states[index];
            if (state.Signals.Settled - state.RecordedSignals >= Window || state.Outcomes.Settled - state.RecordedOutcomes >= Window)
            {
                EnqueueRecord(index, NewRecord(index, NotificationRecords.Cursor), releases: null, deadLetter: false);
            }
        }
    }

    private async Task ReadSourceAsync(int index, bool isOutcome, CancellationToken stopping)
    {
        var state = _states[index];
        var progress = state.Of(isOutcome);
        var stream = isOutcome ? EventStreams.Outcomes(state.Symbol) : EventStreams.Signals(state.Symbol);
        while (true)
        {
            long from, until;
            lock (_gate)
            {
                if (!HasRoom(0))
                {
                    _blockedOnRoom = true;
                    return;
                }

                from = progress.ReadUpTo + 1;
                until = progress.Settled + Window;
            }

            if (from > until)
            {
                // The window is full: a notification far behind is still being retried. Its settling wakes this symbol.
                return;
            }

            var count = (int)Math.Min(ReadPage, until - from + 1);
            var page = await _store.ReadStreamAsync(stream, from, count, stopping).ConfigureAwait(false);
            foreach (var stored in page)
            {
                if (!await TakeAsync(index, isOutcome, stored, stopping).ConfigureAwait(false))
                {
                    return;
                }
            }

            if (page.Count < count)
            {
                return;
            }
        }
    }

    /// <summary>Takes one stored event: settles it when it is not for this sink, queues it when there is room; false when full.</summary>
    private async Task<bool> TakeAsync(int index, bool isOutcome, StoredEvent stored, CancellationToken stopping)
    {
        var progress = _states[index].Of(isOutcome);
        lock (_gate)
        {
            if (progress.IsSettled(stored.Version))
            {
                progress.Settle(stored.Version);
                progress.ReadUpTo = Math.Max(progress.ReadUpTo, stored.Version);
                return true;
            }
        }

        var notification = await DecodeAsync(stored, isOutcome, stopping).ConfigureAwait(false);
        if (notification is null)
        {
            lock (_gate)
            {
                progress.Settle(stored.Version);
                progress.ReadUpTo = Math.Max(progress.ReadUpTo, stored.Version);
            }

            return true;
        }

        var rendered = _sender.Render(notification);
        var now = _time.GetUtcNow().ToUnixTimeMilliseconds();
        lock (_gate)
        {
            if (!HasRoom(rendered.Body.Length))
            {
                // Read again once memory is released: the event stays in the store meanwhile.
                _blockedOnRoom = true;
                return false;
            }

            _pendingCount++;
            Interlocked.Add(ref _pendingBytes, rendered.Body.Length);
            progress.InFlight++;
            progress.ReadUpTo = Math.Max(progress.ReadUpTo, stored.Version);
            var (attempts, retryAt) = progress.TakeRestored(stored.Version);
            var delivery = new Delivery(DeliveryIdOf(stored.EventId), index, isOutcome, stored.Version, notification, rendered)
            {
                Attempts = attempts,
            };
            if (retryAt > now)
            {
                _retries.Enqueue(delivery, retryAt);
            }
            else
            {
                _ready.Writer.TryWrite(delivery);
            }
        }

        return true;
    }

    /// <summary>The notification in a stored event when this sink takes it; null when it does not (or cannot read it).</summary>
    private async Task<Notification?> DecodeAsync(StoredEvent stored, bool isOutcome, CancellationToken stopping)
    {
        if (!EventSerializer.TryDeserialize(stored, out var @event, out var error))
        {
            Log.Unreadable(_logger, _settings.Name, stored.StreamId, stored.Version, error);
            return null;
        }

        var filter = _settings.Filter;
        switch (@event)
        {
            case SignalIssued { Signal: var signal } when !isOutcome:
                return filter.Takes(NotificationEvents.Signal) && filter.Takes(signal) ? new Notification(NotificationEvents.Signal, signal, null) : null;
            case SignalResolved { Outcome: var outcome } when isOutcome && !outcome.IsShadow && filter.Takes(NotificationEvents.SignalResolved):
                if (filter.Timeframes.Count > 0 && !filter.Timeframes.Contains(outcome.Timeframe))
                {
                    return null;
                }

                // A resolution goes where its signal went: the confidence floor is the signal's.
                Signal? resolved = null;
                if (filter.MinConfidence > 0)
                {
                    var signals = await _store.ReadStreamAsync(EventStreams.Signals(outcome.Symbol), outcome.SignalSeq, 1, stopping).ConfigureAwait(false);
                    resolved = signals.Count == 1 && EventSerializer.TryDeserialize(signals[0], out var e, out _) && e is SignalIssued issued && issued.Signal.Id == outcome.SignalId
                        ? issued.Signal
                        : null;
                    if (resolved is null || !filter.Takes(resolved))
                    {
                        return null;
                    }
                }

                return new Notification(NotificationEvents.SignalResolved, resolved, outcome);
            default:
                return null;
        }
    }

    /// <summary>Whether <paramref name="bytes"/> more fit; one notification always fits when nothing is pending, so none can wedge the sink.</summary>
    private bool HasRoom(int bytes) =>
        _pendingCount == 0 || (_pendingCount < _settings.MaxPending && Interlocked.Read(ref _pendingBytes) + bytes <= _settings.MaxPendingBytes);

    /// <summary>
    /// The delivery id: a UUID derived from the sink and the stored event's id, so every attempt — before and after a
    /// restart — carries the same one, and two sinks never share one.
    /// </summary>
    private Guid DeliveryIdOf(Guid eventId)
    {
        Span<byte> input = stackalloc byte[16 + 64 * 3];
        eventId.TryWriteBytes(input, bigEndian: true, out _);
        var length = 16 + Encoding.UTF8.GetBytes(_settings.Label, input[16..]);
        Span<byte> hash = stackalloc byte[32];
        SHA256.HashData(input[..length], hash);

        // RFC 9562 version 8 (custom) with the RFC variant.
        hash[6] = (byte)(0x80 | (hash[6] & 0x0F));
        hash[8] = (byte)(0x80 | (hash[8] & 0x3F));
        return new Guid(hash[..16], bigEndian: true);
    }

    private static TimeSpan Min(TimeSpan a, TimeSpan b) => a < b ? a : b;

    private long Ticks(TimeSpan span) => (long)(span.TotalSeconds * _time.TimestampFrequency);

    private TimeSpan Duration(long stopwatchTicks) => TimeSpan.FromSeconds(stopwatchTicks / (double)_time.TimestampFrequency);

    /// <summary>One notification on its way through this sink: the same id, body and source version on every attempt.</summary>
    private sealed class Delivery(Guid id, int symbolIndex, bool isOutcome, long version, Notification notification, RenderedNotification rendered)
    {
        public Guid Id { get; } = id;

        public int SymbolIndex { get; } = symbolIndex;

        public bool IsOutcome { get; } = isOutcome;

        public long Version { get; } = version;

        public Notification Notification { get; } = notification;

        public RenderedNotification Rendered { get; } = rendered;

        /// <summary>Attempts made so far (including a previous run's).</summary>
        public int Attempts { get; set; }
    }
}
