using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using SignalStream.Engine.Tracing;

namespace SignalStream.EventStore;

internal sealed partial class EventWriter
{
    /// <summary>One lane's commit loop: one group at a time, in the order its events arrived.</summary>
    private async Task RunAsync(ChannelReader<PendingEvent> reader)
    {
        var batch = new List<PendingEvent>(_options.MaxBatchSize);
        var abort = _abort.Token;
        try
        {
            while (await reader.WaitToReadAsync(abort).ConfigureAwait(false))
            {
                var publishes = Drain(reader, batch);
                if (!publishes && batch.Count < _options.MaxBatchSize && _options.MaxDelay > TimeSpan.Zero && !reader.Completion.IsCompleted)
                {
                    // Group commit by time: a short wait lets a closing burst share one commit (one fsync, one round trip).
                    // Not when a signal or outcome waits in the group: a client sees it only after this commit, and what
                    // arrives meanwhile still shares the next one.
                    await Task.Delay(_options.MaxDelay, _time, abort).ConfigureAwait(false);
                    Drain(reader, batch);
                }

                await CommitAsync(reader, batch, abort).ConfigureAwait(false);
                batch.Clear();
            }
        }
        catch (OperationCanceledException) when (abort.IsCancellationRequested)
        {
            Log.Aborted(_logger, batch.Count + reader.Count);
        }
    }

    /// <summary>Moves buffered events into the batch; true when one of them is to be published after the commit.</summary>
    private bool Drain(ChannelReader<PendingEvent> reader, List<PendingEvent> batch)
    {
        var publishes = false;
        while (batch.Count < _options.MaxBatchSize && reader.TryRead(out var e))
        {
            batch.Add(e);
            publishes |= e.Publish is not null;
        }

        return publishes;
    }

    /// <summary>Commits one batch, retrying until the store takes it (the same event ids every time).</summary>
    private async Task CommitAsync(ChannelReader<PendingEvent> reader, List<PendingEvent> batch, CancellationToken abort)
    {
        // Current for the commit, so the store client's own spans (Npgsql's instrumentation) fall under it.
        using var span = SignalStreamTracing.IsOn ? SignalStreamTracing.Source.StartActivity("store commit")?.SetTag("signalstream.events", batch.Count) : null;
        var group = BuildGroup(batch, checkVersions: true);
        StageForProjector(batch);
        var delay = _options.RetryInitialDelay;
        while (true)
        {
            AppendResult result;
            try
            {
                result = await _store.AppendAsync(group, abort).ConfigureAwait(false);
            }
            catch (Exception ex) when (!abort.IsCancellationRequested)
            {
                // Connection lost, server down, disk error: the outcome is unknown, so retry the identical group;
                // ids already stored are skipped, so a lost acknowledgement does not write twice.
                _failures.Add(1);
                lock (_healthLock)
                {
                    _failingSince ??= _time.GetUtcNow();
                    _lastError = ex.Message;
                    _healthy = false;
                }

                Log.AppendFailed(_logger, batch.Count, reader.Count, delay, ex);
                await Task.Delay(delay, _time, abort).ConfigureAwait(false);
                delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, _options.RetryMaxDelay.Ticks));
                continue;
            }

            if (result.Status == AppendStatus.WrongExpectedVersion)
            {
                // A signal seq that does not continue its stream is an engine bug or a second engine on the same
                // symbols. Keep the events (never drop) and say so loudly; reads by seq may then be off for that symbol.
                Log.SeqConflict(_logger, result.ConflictStreamId ?? "?", result.ConflictActualVersion);
                group = BuildGroup(batch, checkVersions: false);
                continue;
            }

            if (!_healthy)
            {
                lock (_healthLock)
                {
                    if (!_healthy)
                    {
                        Log.Recovered(_logger, _failingSince ?? _time.GetUtcNow(), batch.Count);
                    }

                    _healthy = true;
                    _failingSince = null;
                    _lastError = null;
                }
            }

            OnCommitted(batch, result.Appended);
            ReleaseBytes(batch);
            await PublishAsync(batch, abort).ConfigureAwait(false);
            return;
        }
    }

    /// <summary>
    /// Before the append, so the projector finds every event of the group here however soon it reads the group back;
    /// a retried group stages the same ids again, which is harmless.
    /// </summary>
    private void StageForProjector(List<PendingEvent> batch)
    {
        if (_handOff is null)
        {
            return;
        }

        foreach (var e in batch)
        {
            if (e.HandOff is not null)
            {
                _handOff.Stage(e.Data.EventId, e.HandOff, e.Data.Data.Length);
            }
        }
    }

    private void OnCommitted(List<PendingEvent> batch, int appended)
    {
        _persisted.Add(appended);
        var now = _time.GetUtcNow();
        foreach (var e in batch)
        {
            _lag.Record((now - e.Data.CreatedAt).TotalSeconds);
        }

        _commits.Notify();
    }

    /// <summary>
    /// Hands the batch's signals and outcomes, now durable, to the publishers, in the order the engine emitted them. The
    /// lane waits for each (the fan-out's queue pushes back), so a symbol's next group cannot overtake its publication.
    /// </summary>
    private async Task PublishAsync(List<PendingEvent> batch, CancellationToken abort)
    {
        foreach (var e in batch)
        {
            try
            {
                switch (e.Publish)
                {
                    case SignalPublication(var signal, var to):
                        await to.OnSignalAsync(signal, abort).ConfigureAwait(false);
                        _commitWait.Record((_time.GetUtcNow() - e.Data.CreatedAt).TotalSeconds);
                        break;
                    case OutcomePublication(var outcome, var to):
                        await to.OnOutcomeAsync(outcome, abort).ConfigureAwait(false);
                        break;
                    case AlertPublication(var alert, var to):
                        await to.OnAlertAsync(alert, abort).ConfigureAwait(false);
                        break;
                }
            }
            catch (Exception ex) when (!abort.IsCancellationRequested)
            {
                // Stored but not published live (a publisher failed, or has stopped during shutdown): clients still get
                // it, from the store, when they resume or when their hub repairs the hole. The lane must go on.
                Log.PublishFailed(_logger, e.StreamId, ex);
            }
        }
    }

    /// <summary>Groups the batch by stream (first-appearance order, events in order within a stream).</summary>
    private static List<StreamAppend> BuildGroup(List<PendingEvent> batch, bool checkVersions)
    {
        var byStream = new Dictionary<string, (string Type, long Expected, List<EventData> Events)>(StringComparer.Ordinal);
        var order = new List<string>();
        foreach (var e in batch)
        {
            if (!byStream.TryGetValue(e.StreamId, out var entry))
            {
                entry = (e.StreamType, checkVersions ? e.ExpectedVersion : ExpectedVersions.Any, []);
                byStream.Add(e.StreamId, entry);
                order.Add(e.StreamId);
            }

            entry.Events.Add(e.Data);
        }

        var group = new List<StreamAppend>(order.Count);
        foreach (var id in order)
        {
            var (type, expected, events) = byStream[id];
            group.Add(new StreamAppend(id, type, expected, events));
        }

        return group;
    }
}
