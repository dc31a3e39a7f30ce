using Microsoft.AspNetCore.SignalR;
using SignalStream.Contracts;

namespace SignalStream.Client.Internal;

/// <summary>The server-side subscription of one symbol and the application subscriptions that share it.</summary>
/// <remarks>
/// Live signals (the connection's receive loop) and subscribe results (invocation continuations) arrive on different
/// threads; one lock orders them, and deliveries happen under it so every subscriber sees seq order.
/// </remarks>
internal sealed class SymbolChannel(SignalStreamClient client, string symbol)
{
    private const int MaxRememberedOutcomes = 4096;

    private readonly Lock _gate = new();
    private readonly SignalSequencer _sequencer = new(symbol);
    private readonly List<SignalSubscription> _subscriptions = [];
    private readonly Dictionary<Timeframe, Signal> _latestByTimeframe = [];
    private readonly HashSet<string> _seenOutcomes = new(StringComparer.Ordinal);
    private readonly TaskCompletionSource _established = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private bool _inFlight;
    private bool _again;
    private bool _closed;
    private int _recoveryAttempts;

    public string Symbol { get; } = symbol;

    public Task Established => _established.Task;

    public long? LastSeq
    {
        get
        {
            lock (_gate)
            {
                return _sequencer.LastSeq;
            }
        }
    }

    /// <summary>Adds a subscription; true when the symbol was already live (the snapshot is replayed to it at once).</summary>
    public bool Join(SignalSubscription subscription)
    {
        bool live;
        lock (_gate)
        {
            _subscriptions.Add(subscription);
            live = _established.Task.IsCompletedSuccessfully;
            if (live)
            {
                foreach (var signal in _latestByTimeframe.Values.OrderBy(s => s.Seq))
                {
                    subscription.Deliver(new SignalDelivery(signal, SignalSource.Snapshot));
                }
            }
        }

        if (!live)
        {
            RequestSubscribe();
        }

        return live;
    }

    public async ValueTask LeaveAsync(SignalSubscription subscription)
    {
        bool last;
        lock (_gate)
        {
            last = _subscriptions.Remove(subscription) && _subscriptions.Count == 0 && !_closed;
            if (last)
            {
                _closed = true;
            }
        }

        if (last)
        {
            _established.TrySetException(new OperationCanceledException("unsubscribed"));
            await client.ReleaseAsync(this, unsubscribe: true).ConfigureAwait(false);
        }
    }

    public void OnLive(Signal signal)
    {
        bool fill;
        lock (_gate)
        {
            if (_closed)
            {
                return;
            }

            fill = Apply(_sequencer.AcceptLive(signal));
        }

        if (fill)
        {
            RequestSubscribe();
        }
    }

    public void OnResolved(SignalOutcome outcome)
    {
        lock (_gate)
        {
            if (_closed || outcome.IsShadow || _seenOutcomes.Contains(outcome.SignalId))
            {
                return;
            }

            if (_seenOutcomes.Count >= MaxRememberedOutcomes)
            {
                _seenOutcomes.Clear(); // bounded; outcomes are not redelivered after a reconnect anyway
            }

            _seenOutcomes.Add(outcome.SignalId);
            foreach (var subscription in _subscriptions)
            {
                subscription.DeliverOutcome(outcome);
            }
        }
    }

    public void Close(Exception reason)
    {
        SignalSubscription[] subscriptions;
        lock (_gate)
        {
            _closed = true;
            subscriptions = [.. _subscriptions];
            _subscriptions.Clear();
        }

        foreach (var subscription in subscriptions)
        {
            subscription.Deactivate();
        }

        _established.TrySetException(reason);
    }

    /// <summary>Subscribes (or re-subscribes with <c>afterSeq</c>) once the invocation in flight, if any, completes.</summary>
    public void RequestSubscribe()
    {
        lock (_gate)
        {
            if (_inFlight)
            {
                _again = true;
                return;
            }

            _inFlight = true;
        }

        _ = RunSubscribeAsync();
    }

    private async Task RunSubscribeAsync()
    {
        while (true)
        {
            long? afterSeq;
            lock (_gate)
            {
                _again = false;
                if (_closed || !client.IsConnected)
                {
                    _inFlight = false; // the next (re)connect asks again
                    return;
                }

                afterSeq = _sequencer.BeginSubscribe();
            }

            SubscribeResult result;
            try
            {
                result = await client.InvokeSubscribeAsync(new SubscribeRequest(Symbol, AfterSeq: afterSeq)).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is not OutOfMemoryException)
            {
                TimeSpan? again = null;
                lock (_gate)
                {
                    Apply(_sequencer.AbortSubscribe());
                    _inFlight = false;
                    var delays = client.Options.RecoveryRetryDelays;
                    if (ex is HubException && IsHistoryUnavailable(ex) && _recoveryAttempts < delays.Count)
                    {
                        again = delays[_recoveryAttempts++];
                    }
                }

                if (again is { } delay)
                {
                    // The server could not read its signal store in time: not a refusal, ask again.
                    SignalStreamClient.Log.RecoveryIncomplete(client.Logger, Symbol, afterSeq, ex.Message, delay);
                    _ = RetryAfterAsync(delay);
                }
                else if (ex is HubException)
                {
                    Refuse(ex); // the server answered: unknown symbol, not entitled, a limit
                }

                return; // otherwise the connection dropped: the reconnect asks again
            }

            TimeSpan? retryIn = null;
            lock (_gate)
            {
                if (_closed)
                {
                    _inFlight = false;
                    return;
                }

                var delays = client.Options.RecoveryRetryDelays;
                var step = _sequencer.AcceptResult(result, afterSeq, final: _recoveryAttempts >= delays.Count);
                if (Apply(step))
                {
                    _again = true;
                }

                if (step.NeedsRetry)
                {
                    retryIn = delays[_recoveryAttempts++];
                }
                else
                {
                    _recoveryAttempts = 0;
                }
            }

            _established.TrySetResult();
            if (retryIn is { } wait)
            {
                SignalStreamClient.Log.RecoveryIncomplete(client.Logger, Symbol, afterSeq, result.Reason ?? "no reason given", wait);
                _ = RetryAfterAsync(wait);
            }

            lock (_gate)
            {
                if (!_again)
                {
                    _inFlight = false;
                    return;
                }
            }
        }
    }

    private async Task RetryAfterAsync(TimeSpan wait)
    {
        await Task.Delay(wait).ConfigureAwait(false);
        RequestSubscribe();
    }

    /// <summary>The hub's answer when it could not read its signal store in time (docs/hub.md): worth asking again.</summary>
    private static bool IsHistoryUnavailable(Exception error) =>
        error.Message.Contains("signal history is unavailable", StringComparison.Ordinal);

    private void Refuse(Exception error)
    {
        var refusal = new SubscriptionRefusedException(Symbol, $"Subscribe({Symbol}) was refused: {error.Message}", error);
        SignalSubscription[] subscriptions;
        lock (_gate)
        {
            _closed = true;
            subscriptions = [.. _subscriptions];
            _subscriptions.Clear();
        }

        _ = client.ReleaseAsync(this, unsubscribe: false);
        var waited = _established.TrySetException(refusal);
        foreach (var subscription in subscriptions)
        {
            subscription.Deactivate();
            if (!waited)
            {
                subscription.Fail(refusal); // a refused re-subscribe: the subscription was live, tell it
            }
        }
    }

    /// <summary>Releases a step's deliveries and gaps (under the lock); true when a hole must be filled.</summary>
    private bool Apply(SequencerStep step)
    {
        foreach (var delivery in step.Deliveries)
        {
            var signal = delivery.Signal;
            if (!_latestByTimeframe.TryGetValue(signal.Timeframe, out var previous) || previous.Seq < signal.Seq)
            {
                _latestByTimeframe[signal.Timeframe] = signal;
            }

            foreach (var subscription in _subscriptions)
            {
                subscription.Deliver(delivery);
            }
        }

        if (step.Reset is { } reset)
        {
            foreach (var (timeframe, signal) in _latestByTimeframe.ToArray())
            {
                if (signal.Seq > reset.LatestSeq)
                {
                    _latestByTimeframe.Remove(timeframe);
                }
            }

            var error = new SignalHistoryResetException(reset);
            SignalStreamClient.Log.SignalGap(client.Logger, error.Message);
            foreach (var subscription in _subscriptions)
            {
                subscription.Fail(error);
            }
        }

        foreach (var gap in step.Gaps)
        {
            var error = new SignalGapException(gap);
            SignalStreamClient.Log.SignalGap(client.Logger, error.Message);
            foreach (var subscription in _subscriptions)
            {
                subscription.Fail(error);
            }
        }

        return step.NeedsFill;
    }
}
