using Microsoft.AspNetCore.SignalR;
using SignalStream.Contracts;

namespace SignalStream.Client.Internal;

/// <summary>The server-side subscription of one symbol and the application subscriptions that share it.</summary>
/// <remarks>
/// Live signals (the connection's receive loop) and subscribe results (invocation continuations) arrive on different
/// threads; one lock orders them, and deliveries happen under it so every subscriber sees seq order, and outcomeSeq order
/// for outcomes. One retry loop serves both: a Subscribe carries each resume point (<c>afterSeq</c>,
/// <c>afterOutcomeSeq</c>) as far as it got, so the signals are not asked for again when only the outcomes fell short,
/// nor the other way round.
/// </remarks>
internal sealed class SymbolChannel(SignalStreamClient client, string symbol)
{
    private readonly Lock _gate = new();
    private readonly SignalSequencer _sequencer = new(symbol);
    private readonly List<SignalSubscription> _subscriptions = [];
    private readonly Dictionary<Timeframe, Signal> _latestByTimeframe = [];
    private readonly OutcomeSequencer _outcomes = new(symbol);
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
            if (!_closed)
            {
                Apply(_outcomes.AcceptLive(outcome));
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
            long? afterOutcomeSeq;
            lock (_gate)
            {
                _again = false;
                if (_closed || !client.IsConnected)
                {
                    _inFlight = false; // the next (re)connect asks again
                    return;
                }

                afterSeq = _sequencer.BeginSubscribe();
                afterOutcomeSeq = _outcomes.BeginSubscribe(client.Epoch);
            }

            SubscribeResult result;
            try
            {
                result = await client.InvokeSubscribeAsync(new SubscribeRequest(Symbol, AfterSeq: afterSeq, AfterOutcomeSeq: afterOutcomeSeq)).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is not OutOfMemoryException)
            {
                TimeSpan? again = null;
                lock (_gate)
                {
                    // Held outcomes stay held: the outcomes before them are still missing, and the next Subscribe asks.
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
                    SignalStreamClient.Log.RecoveryIncomplete(client.Logger, Symbol, afterSeq, true, afterOutcomeSeq, afterOutcomeSeq is not null, ex.Message, delay);
                    _ = RetryAfterAsync(delay);
                }
                else if (ex is HubException)
                {
                    Refuse(ex); // the server answered: unknown symbol, not entitled, a limit
                }

                return; // otherwise the connection dropped: the reconnect asks again
            }

            TimeSpan? retryIn = null;
            var signalsShort = false;
            var outcomesShort = false;
            lock (_gate)
            {
                if (_closed)
                {
                    _inFlight = false;
                    return;
                }

                var delays = client.Options.RecoveryRetryDelays;
                var final = _recoveryAttempts >= delays.Count;
                var step = _sequencer.AcceptResult(result, afterSeq, final);
                if (Apply(step))
                {
                    _again = true;
                }

                var outcomes = _outcomes.AcceptResult(result, afterOutcomeSeq, final);
                Apply(outcomes);
                if (outcomes.Next == OutcomesNext.Fill)
                {
                    _again = true; // live outcomes past the hold bound were dropped: ask from the last one delivered
                }

                signalsShort = step.NeedsRetry;
                outcomesShort = outcomes.Next == OutcomesNext.Retry;
                if (signalsShort || outcomesShort)
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
                SignalStreamClient.Log.RecoveryIncomplete(client.Logger, Symbol, afterSeq, signalsShort, afterOutcomeSeq, outcomesShort, result.Reason ?? "no reason given", wait);
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

    /// <summary>Releases an outcome step's deliveries and its gap, if any (under the lock).</summary>
    private void Apply(OutcomeStep step)
    {
        foreach (var outcome in step.Deliveries)
        {
            foreach (var subscription in _subscriptions)
            {
                subscription.DeliverOutcome(outcome);
            }
        }

        if (step.Gap is { } gap)
        {
            var error = new OutcomeGapException(gap);
            SignalStreamClient.Log.OutcomeGap(client.Logger, error.Message);
            foreach (var subscription in _subscriptions)
            {
                if (subscription.WantsOutcomes)
                {
                    subscription.Fail(error); // a loss of outcomes concerns only the subscriptions that take them
                }
            }
        }
    }
}
