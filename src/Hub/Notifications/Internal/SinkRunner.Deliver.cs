using System.Diagnostics.CodeAnalysis;
using SignalStream.Contracts;

namespace SignalStream.Hub.Notifications.Internal;

internal sealed partial class SinkRunner
{
    private async Task WorkAsync(CancellationToken stopping)
    {
        try
        {
            await foreach (var delivery in _ready.Reader.ReadAllAsync(stopping).ConfigureAwait(false))
            {
                await AttemptAsync(delivery, stopping).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (stopping.IsCancellationRequested)
        {
            // Shutdown: what is queued stays pending in the store and is tried again after the next start.
        }
    }

    [SuppressMessage("Design", "CA1031:Do not catch general exception types", Justification = "A sender's unforeseen exception is a failed attempt, logged as a bug: one notification must not stop the sink (see the catch).")]
    [SuppressMessage("Security", "CA5394:Do not use insecure randomness", Justification = "Retry jitter; nothing depends on it being unpredictable.")]
    private async Task AttemptAsync(Delivery delivery, CancellationToken stopping)
    {
        var attempt = delivery.Attempts + 1;
        SendResult result;
        using (var deadline = CancellationTokenSource.CreateLinkedTokenSource(stopping))
        {
            deadline.CancelAfter(_settings.Timeout);
            try
            {
                result = await _sender.SendAsync(delivery.Rendered, delivery.Id, deadline.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (stopping.IsCancellationRequested)
            {
                // Abandoned at shutdown: not an attempt that failed; the next start tries again.
                return;
            }
            catch (OperationCanceledException)
            {
                result = new SendResult(SendStatus.Transient, $"no answer within {_settings.Timeout.TotalSeconds:0.###} s (Timeout)");
            }
            catch (Exception ex)
            {
                // A sender is meant to turn every expected failure into a result; anything else is a bug, but one
                // notification must not stop the sink: it counts as a failed attempt.
                var message = ex.Message;
                foreach (var secret in _settings.Secrets())
                {
                    message = message.Replace(secret, "***", StringComparison.Ordinal);
                }

                Log.SenderBug(_logger, _settings.Name, ex.GetType().Name, message);
                result = new SendResult(SendStatus.Transient, $"{ex.GetType().Name}: {message}");
            }
        }

        delivery.Attempts = attempt;
        var n = delivery.Notification;
        var now = _time.GetUtcNow();
        if (result.Status == SendStatus.Delivered)
        {
            _metrics.Sent(this, (now.ToUnixTimeMilliseconds() - n.OccurredAt) / 1000.0);
            Log.Delivered(_logger, _settings.Name, n.EventName, n.SignalId, delivery.Id, attempt);
            Settle(delivery, NotificationRecords.Delivered, null);
            return;
        }

        _metrics.Failed(this);
        if (result.Status == SendStatus.Transient && attempt < _settings.Retry.MaxAttempts)
        {
            double random;
            lock (_random)
            {
                random = _random.NextDouble();
            }

            var delay = RetryPolicy.Delay(_settings.Retry, attempt, result.RetryAfter, random);
            var retryAt = now.ToUnixTimeMilliseconds() + (long)Math.Ceiling(delay.TotalMilliseconds);
            _metrics.Retried(this);
            Log.Retrying(_logger, _settings.Name, attempt, _settings.Retry.MaxAttempts, n.EventName, n.SignalId, delivery.Id, delay, result.Error);
            lock (_gate)
            {
                var record = NewRecord(delivery.SymbolIndex, NotificationRecords.AttemptFailed) with
                {
                    DeliveryId = delivery.Id,
                    Event = n.EventName,
                    SourceVersion = delivery.Version,
                    SignalId = n.SignalId,
                    Timeframe = n.Timeframe.ToName(),
                    Attempts = attempt,
                    RetryAt = retryAt,
                    Error = result.Error,
                };
                EnqueueRecord(delivery.SymbolIndex, record, releases: null, deadLetter: false);
                _retries.Enqueue(delivery, retryAt);
            }

            Signal();
            return;
        }

        _metrics.Dead(this);
        Log.DeadLettered(_logger, _settings.Name, n.EventName, n.SignalId, delivery.Id, attempt, result.Error);
        Settle(delivery, NotificationRecords.DeadLettered, result.Error);
    }

    /// <summary>
    /// Delivered or dead: the version is settled now; the memory it held is released once the record is committed,
    /// so a store that cannot take records also stops the sink from taking more.
    /// </summary>
    private void Settle(Delivery delivery, string kind, string? error)
    {
        lock (_gate)
        {
            var progress = _states[delivery.SymbolIndex].Of(delivery.IsOutcome);
            progress.Settle(delivery.Version);
            progress.InFlight--;
            var n = delivery.Notification;
            var record = NewRecord(delivery.SymbolIndex, kind) with
            {
                DeliveryId = delivery.Id,
                Event = n.EventName,
                SourceVersion = delivery.Version,
                SignalId = n.SignalId,
                Timeframe = n.Timeframe.ToName(),
                Attempts = delivery.Attempts,
                Error = error,
            };
            EnqueueRecord(delivery.SymbolIndex, record, releases: delivery, deadLetter: kind == NotificationRecords.DeadLettered);
        }

        // The window may have moved: read this symbol again.
        Volatile.Write(ref _dirty[delivery.SymbolIndex], 1);
        Signal();
    }
}
