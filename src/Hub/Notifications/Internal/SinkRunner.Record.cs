
using SignalStream.EventStore;

namespace SignalStream.Hub.Notifications.Internal;

internal sealed partial class SinkRunner
{
    private const int RecordBatch = 256;

    /// <summary>A record on its way to the store, and the memory its commit releases.</summary>
    private readonly record struct RecordWrite(int SymbolIndex, NotificationRecord Record, Delivery? Releases, bool DeadLetter);

    /// <summary>A record of this symbol's progress now (caller holds <see cref="_gate"/>); marks that progress recorded.</summary>
    private NotificationRecord NewRecord(int index, string kind)
    {
        var state = _states[index];
        state.RecordedSignals = state.Signals.Settled;
        state.RecordedOutcomes = state.Outcomes.Settled;
        return new NotificationRecord(
            kind, _settings.Name, state.Symbol, state.Signals.Settled, state.Outcomes.Settled, state.Signals.Reach, state.Outcomes.Reach, _time.GetUtcNow().ToUnixTimeMilliseconds());
    }

    /// <summary>Queues a record (caller holds <see cref="_gate"/>): records reach the store in the order they are queued.</summary>
    private void EnqueueRecord(int index, NotificationRecord record, Delivery? releases, bool deadLetter)
    {
        if (!_records.Writer.TryWrite(new RecordWrite(index, record, releases, deadLetter)))
        {
            // Completed at shutdown after the last loop ended: the record is lost, which only means the next start
            // sends that notification again (same delivery id).
            Release(releases);
        }
    }

    /// <summary>
    /// Appends queued records in groups (one append, so one fsync or one transaction, for a burst of deliveries),
    /// retrying while the store is down; ends when the channel is completed and drained.
    /// </summary>
    private async Task RecordAsync()
    {
        var batch = new List<RecordWrite>(RecordBatch);
        var delay = TimeSpan.FromMilliseconds(100);
        var reader = _records.Reader;
        while (await reader.WaitToReadAsync(CancellationToken.None).ConfigureAwait(false))
        {
            while (batch.Count < RecordBatch && reader.TryRead(out var write))
            {
                batch.Add(write);
            }

            var group = Group(batch);
            while (true)
            {
                try
                {
                    await _store.AppendAsync(group, CancellationToken.None).ConfigureAwait(false);
                    delay = TimeSpan.FromMilliseconds(100);
                    break;
                }
                catch (Exception ex) when (ex is not OperationCanceledException)
                {
                    if (_stopping.IsCancellationRequested)
                    {
                        // Stopping with the store unavailable: the next start re-sends what these would have settled.
                        Log.StoreFailed(_logger, _settings.Name, "recording progress at shutdown; given up", TimeSpan.Zero, ex);
                        return;
                    }

                    Log.StoreFailed(_logger, _settings.Name, "recording progress", delay, ex);
                    await Task.Delay(delay, _time).ConfigureAwait(false);
                    delay = Min(delay * 2, StoreRetryMax);
                }
            }

            var released = false;
            foreach (var write in batch)
            {
                released |= Release(write.Releases);
            }

            batch.Clear();
            if (released && _blockedOnRoom)
            {
                _blockedOnRoom = false;
                for (var i = 0; i < _dirty.Length; i++)
                {
                    Volatile.Write(ref _dirty[i], 1);
                }

                Signal();
            }
        }
    }

    private bool Release(Delivery? delivery)
    {
        if (delivery is null)
        {
            return false;
        }

        lock (_gate)
        {
            _pendingCount--;
        }

        Interlocked.Add(ref _pendingBytes, -delivery.Rendered.Body.Length);
        return true;
    }

    private List<StreamAppend> Group(List<RecordWrite> batch)
    {
        var now = _time.GetUtcNow();
        var streams = new Dictionary<string, List<EventData>>(StringComparer.Ordinal);
        var order = new List<(string Stream, string Type)>();
        foreach (var write in batch)
        {
            var data = NotificationRecords.Serialize(write.Record, now);
            Add(NotificationRecords.Stream(_settings.Label, _symbols[write.SymbolIndex]), NotificationRecords.StreamType, data);
            if (write.DeadLetter)
            {
                // The same record again in the sink's dead-letter stream (a new event id: ids are unique store-wide).
                Add(NotificationRecords.DeadLetters(_settings.Label), NotificationRecords.DeadLettersType, NotificationRecords.Serialize(write.Record, now));
            }
        }

        var group = new List<StreamAppend>(order.Count);
        foreach (var (stream, type) in order)
        {
            group.Add(new StreamAppend(stream, type, ExpectedVersions.Any, streams[stream]));
        }

        return group;

        void Add(string stream, string type, EventData data)
        {
            if (!streams.TryGetValue(stream, out var events))
            {
                events = [];
                streams.Add(stream, events);
                order.Add((stream, type));
            }

            events.Add(data);
        }
    }
}
