using SignalStream.Contracts;
using SignalStream.Contracts.Serialization;

namespace SignalStream.Hub.FanOut.Internal;

internal sealed partial class SymbolFeed
{
    // Store reads one Subscribe may make before it gives up: a read is repeated only when more signals were delivered
    // while it ran than the ring holds (or the store lagged behind this node), so a third read means the store cannot
    // keep up and the client is better told so.
    private const int MaxStoreReads = 3;

    /// <summary>
    /// Computes the subscriber's snapshot and joins it to the live stream atomically: the snapshot holds every matching
    /// signal with afterSeq &lt; seq ≤ D (D = delivered when joining) and live delivery starts at D + 1.
    /// </summary>
    /// <remarks>
    /// The store is never read under the delivery lock, so a slow or unreachable store holds up this Subscribe only,
    /// never the symbol's delivery. The join is tried first under the lock from memory (the ring); when that is not
    /// enough the store is read outside the lock and the join is tried again, the ring supplying what was delivered
    /// while the store was read. A store that fails or does not answer within <c>Hub:History:ReadTimeout</c> (and a
    /// delivery lock held that long by a hole repair) throws <see cref="SignalHistoryUnavailableException"/>; nothing
    /// changed for anyone.
    /// </remarks>
    /// <para>
    /// Outcomes join the same way on outcomeSeq, at the same moment: the outcomes after <c>afterOutcomeSeq</c> up to the
    /// delivered outcomeSeq D' are returned (from the store, and from the recent ones delivered while it was read), and
    /// live outcomes start at D' + 1.
    /// </para>
    public async ValueTask<SubscribeResult> SubscribeAsync(
        SignalSubscription subscription, long? afterSeq, long? afterOutcomeSeq, IReadOnlyList<string> timeframeNames, CancellationToken cancellationToken)
    {
        StoreView? view = null;
        OutcomeView? outcomeView = null;
        var waitedForAfterSeq = false;
        for (var reads = 0; ; reads++)
        {
            Join? join;
            OutcomeJoin? outcomes = null;
            await EnterAsync(cancellationToken).ConfigureAwait(false);
            try
            {
                join = afterSeq is long after
                    ? TryJoinAfter(after, view, final: reads >= MaxStoreReads)
                    : TryJoinLatest(view, final: reads >= MaxStoreReads);
                if (join is not null && (!join.Beyond || waitedForAfterSeq))
                {
                    outcomes = TryJoinOutcomes(afterOutcomeSeq, outcomeView, final: reads >= MaxStoreReads);
                    if (outcomes is not null)
                    {
                        subscription.SkipUpTo = join.SkipUpTo;
                        subscription.SkipOutcomesUpTo = outcomes.SkipUpTo;
                        join.Signals.RemoveAll(s => !subscription.Covers(s.Timeframe) || s.Confidence < subscription.MinConfidence);
                        outcomes.Outcomes.RemoveAll(o => !subscription.Covers(o.Timeframe) || ResolvedConfidence(o) < subscription.MinConfidence);
                        AddSubscriber(subscription);
                        var reason = join.Reason is null ? outcomes.Reason : outcomes.Reason is null ? join.Reason : join.Reason + " " + outcomes.Reason;
                        return new SubscribeResult(Symbol, timeframeNames, join.LatestSeq, join.Recovered && outcomes.Recovered, join.Signals, reason)
                        {
                            LatestOutcomeSeq = outcomes.LatestOutcomeSeq,
                            Outcomes = outcomes.Outcomes,
                            SignalsRecovered = join.Recovered,
                            OutcomesRecovered = outcomes.Recovered,
                        };
                    }
                }
            }
            finally
            {
                _deliveryLock.Release();
            }

            if (join is { Beyond: true } && !waitedForAfterSeq)
            {
                waitedForAfterSeq = true;
                view = await WaitForSeqAsync(afterSeq!.Value, view, cancellationToken).ConfigureAwait(false);
            }
            else if (join is null)
            {
                view = await ReadStoreAsync(afterSeq, DeliveredSeq, cancellationToken).ConfigureAwait(false);
            }
            else
            {
                outcomeView = await ReadOutcomesAsync(afterOutcomeSeq, cancellationToken).ConfigureAwait(false);
            }
        }
    }

    /// <summary>
    /// The outcomes' join under the lock: D' is the delivered outcomeSeq (a new feed's set from the store's last one as
    /// read). Without afterOutcomeSeq nothing is returned; with it, the outcomes after it up to D' (at most the resume
    /// bound, the newest ones). Null when the store must be read (again).
    /// </summary>
    private OutcomeJoin? TryJoinOutcomes(long? afterOutcomeSeq, OutcomeView? view, bool final)
    {
        if (_deliveredOutcome < 0)
        {
            if (_context.History is not null && view is null)
            {
                return null;
            }

            Volatile.Write(ref _deliveredOutcome, view?.LastOutcomeSeq ?? 0);
        }

        var delivered = _deliveredOutcome;
        if (afterOutcomeSeq is not long after)
        {
            return new OutcomeJoin(delivered, true, [], null, delivered);
        }

        if (after >= delivered)
        {
            if (after > delivered && _context.History is not null && view is null)
            {
                return null; // ahead of this node: the store's last outcomeSeq tells whether it exists at all
            }

            // Within the store's last one the client only saw them on a node further on; beyond it, they do not exist.
            var newest = Math.Max(delivered, view?.LastOutcomeSeq ?? delivered);
            return after <= newest
                ? new OutcomeJoin(after, true, [], null, after)
                : new OutcomeJoin(delivered, false, [], $"afterOutcomeSeq {after} is beyond the newest {Symbol} outcome (outcomeSeq {newest}): " +
                    $"the signal store was reset, or this position is not from this deployment. Live outcomes follow from outcomeSeq {delivered + 1}.", delivered);
        }

        var bound = _context.Options.MaxRecoverySignals;
        var missed = delivered - after;
        var from = missed > bound ? delivered - bound : after;
        var outcomes = new List<SignalOutcome>();
        var expected = from + 1;
        if (view is not null && view.ReadAfter <= from)
        {
            foreach (var outcome in view.Outcomes)
            {
                if (outcome.OutcomeSeq < expected)
                {
                    continue;
                }

                if (outcome.OutcomeSeq > delivered)
                {
                    break;
                }

                // A gap in a store read is a skipped event (see FillOutcomesAsync), not one still to come.
                if (!outcome.IsShadow)
                {
                    outcomes.Add(outcome);
                }

                expected = outcome.OutcomeSeq + 1;
            }

            if (view.Outcomes.Count < view.Limit)
            {
                // The read reached the store's end as it was then: anything newer was delivered here since, or is on its way.
                expected = Math.Max(expected, Math.Min(delivered, view.LastOutcomeSeq) + 1);
            }
        }

        if (expected <= delivered)
        {
            var recent = 0;
            foreach (var outcome in _recentOutcomes)
            {
                if (outcome.OutcomeSeq >= expected && outcome.OutcomeSeq <= delivered)
                {
                    if (outcome.OutcomeSeq != expected && recent == 0)
                    {
                        break;
                    }

                    outcomes.Add(outcome);
                    expected = outcome.OutcomeSeq + 1;
                    recent++;
                }
            }
        }

        if (expected <= delivered)
        {
            if (_context.History is null)
            {
                return new OutcomeJoin(delivered, false, outcomes, $"This node keeps only its last {_recentOutcomes.Count} outcomes of {Symbol} in memory and has " +
                    $"no signal store; outcomes after outcomeSeq {after} cannot all be recovered here.", delivered);
            }

            if (!final)
            {
                return null;
            }

            return new OutcomeJoin(delivered, false, outcomes, $"The signal store does not have {Symbol} outcomeSeq {expected} yet; retry Subscribe with the same afterOutcomeSeq.", delivered);
        }

        return missed > bound
            ? new OutcomeJoin(delivered, false, outcomes, $"{missed} outcomes of {Symbol} were missed after outcomeSeq {after}, more than the resume limit of {bound}; " +
                $"these are the newest {bound}.", delivered)
            : new OutcomeJoin(delivered, true, outcomes, null, delivered);
    }

    /// <summary>Reads what the outcomes' join needs, outside the delivery lock: the store's last outcomeSeq and the
    /// outcomes after afterOutcomeSeq (at most the resume bound, the newest ones).</summary>
    private async ValueTask<OutcomeView> ReadOutcomesAsync(long? afterOutcomeSeq, CancellationToken cancellationToken)
    {
        var history = _context.History!;
        var last = await history.GetLastOutcomeSeqAsync(Symbol, cancellationToken).ConfigureAwait(false);
        var bound = _context.Options.MaxRecoverySignals;
        if (afterOutcomeSeq is not long after || after >= last)
        {
            return new OutcomeView(last, last, bound, []);
        }

        var from = last - after > bound ? last - bound : after;
        var stored = await history.ReadOutcomesAsync(Symbol, from, bound, cancellationToken).ConfigureAwait(false);
        return new OutcomeView(last, from, bound, stored);
    }

    /// <summary>What a Subscribe read of the outcomes: the store's last outcomeSeq, and those read after <see cref="ReadAfter"/> (at most <see cref="Limit"/>).</summary>
    private sealed record OutcomeView(long LastOutcomeSeq, long ReadAfter, int Limit, IReadOnlyList<SignalOutcome> Outcomes);

    /// <summary>The outcomes' answer: the join point, recovery, the outcomes returned, and the last outcomeSeq not sent live.</summary>
    private sealed record OutcomeJoin(long LatestOutcomeSeq, bool Recovered, List<SignalOutcome> Outcomes, string? Reason, long SkipUpTo);

    public async ValueTask UnsubscribeAsync(ConnectionState connection)
    {
        await _deliveryLock.WaitAsync(CancellationToken.None).ConfigureAwait(false);
        try
        {
            var current = _subscribers;
            var index = Array.FindIndex(current, s => ReferenceEquals(s.Connection, connection));
            if (index >= 0)
            {
                var next = new SignalSubscription[current.Length - 1];
                Array.Copy(current, 0, next, 0, index);
                Array.Copy(current, index + 1, next, index, current.Length - index - 1);
                Volatile.Write(ref _subscribers, next);
            }
        }
        finally
        {
            _deliveryLock.Release();
        }
    }

    /// <summary>Takes the delivery lock, waiting at most the store read timeout: the loop holds it that long only while a
    /// hole repair waits for the store, and then this Subscribe could not be answered sooner anyway.</summary>
    private async ValueTask EnterAsync(CancellationToken cancellationToken)
    {
        if (_context.History is not { } history)
        {
            await _deliveryLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        else if (!await _deliveryLock.WaitAsync(history.Timeout, cancellationToken).ConfigureAwait(false))
        {
            throw history.DeliveryBusy(Symbol);
        }
    }

    private void AddSubscriber(SignalSubscription subscription)
    {
        var current = _subscribers;
        var index = Array.FindIndex(current, s => ReferenceEquals(s.Connection, subscription.Connection));
        var next = index >= 0 ? (SignalSubscription[])current.Clone() : new SignalSubscription[current.Length + 1];
        if (index >= 0)
        {
            next[index] = subscription;
        }
        else
        {
            current.CopyTo(next, 0);
            next[^1] = subscription;
        }

        Volatile.Write(ref _subscribers, next);
    }

    /// <summary>
    /// The join point D under the lock: the delivered seq, which a first Subscribe on a new feed sets from the store's
    /// last seq as read. False when the feed is new and the store has not been read yet.
    /// </summary>
    private bool TryJoinPoint(StoreView? view, out long delivered)
    {
        if (_delivered < 0 && _context.History is not null)
        {
            if (view?.LastSeq is not long last)
            {
                delivered = 0;
                return false;
            }

            Volatile.Write(ref _delivered, last);
        }

        delivered = Math.Max(_delivered, 0);
        return true;
    }

    /// <summary>Without afterSeq: the latest signal per timeframe up to D. Null when the store must be read (again).</summary>
    private Join? TryJoinLatest(StoreView? view, bool final)
    {
        var signals = new List<Signal>();
        if (_context.History is null)
        {
            _ring.CopyLatestPerTimeframe(signals);
            return new Join(Math.Max(_delivered, 0), true, signals, null, Math.Max(_delivered, 0));
        }

        if (view is null || !TryJoinPoint(view, out var delivered))
        {
            return null;
        }

        // What was delivered while the store was read is in the ring, unless more arrived than it holds.
        if (delivered > view.Base && !_ring.Covers(view.Base, delivered) && !final)
        {
            return null;
        }

        var latest = new Signal?[Timeframes.All.Count];
        var fromRing = new List<Signal>();
        _ring.CopyLatestPerTimeframe(fromRing);
        foreach (var signal in view.Signals.Concat(fromRing))
        {
            // Newer ones are still on their way to this node: the subscriber receives them live.
            ref var slot = ref latest[(int)signal.Timeframe];
            if (signal.Seq <= delivered && (slot is null || slot.Seq < signal.Seq))
            {
                slot = signal;
            }
        }

        foreach (var signal in latest)
        {
            if (signal is not null)
            {
                signals.Add(signal);
            }
        }

        signals.Sort(static (a, b) => a.Seq.CompareTo(b.Seq));
        return new Join(delivered, true, signals, null, delivered);
    }

    /// <summary>With afterSeq: what the client missed up to D. Null when the store must be read (again).</summary>
    private Join? TryJoinAfter(long afterSeq, StoreView? view, bool final)
    {
        if (!TryJoinPoint(view, out var delivered))
        {
            return null;
        }

        if (afterSeq > delivered)
        {
            return JoinAhead(afterSeq, delivered, view);
        }

        var missed = delivered - afterSeq;
        var bound = _context.Options.MaxRecoverySignals;
        var from = missed > bound ? delivered - bound : afterSeq;
        var signals = new List<Signal>();
        var expected = from + 1;
        if (view is not null && view.ReadAfter <= from)
        {
            foreach (var signal in view.Signals)
            {
                if (signal.Seq < expected)
                {
                    continue;
                }

                if (signal.Seq != expected || signal.Seq > delivered)
                {
                    break;
                }

                signals.Add(signal);
                expected++;
            }
        }

        if (expected <= delivered && !_ring.TryCopyRange(expected - 1, delivered, signals))
        {
            if (_context.History is null)
            {
                return new Join(delivered, false, [], $"This node keeps only its last {_ring.Count} signals of {Symbol} in memory and has no signal store; " +
                    $"signals after seq {afterSeq} up to {_ring.OldestSeq - 1} cannot be recovered here.", delivered);
            }

            if (view is null || !final)
            {
                return null;
            }

            return new Join(delivered, false, [], $"The signal store does not have {Symbol} seq {expected} yet; retry Subscribe with the same afterSeq.", delivered);
        }

        return missed > bound
            ? new Join(delivered, false, signals, $"{missed} signals of {Symbol} were missed after seq {afterSeq}, more than the resume limit of {bound}; " +
                $"these are the newest {bound}. Page the rest from /api/signals?symbol={Symbol}&afterSeq={afterSeq}&limit={bound}.", delivered)
            : new Join(delivered, true, signals, null, delivered);
    }

    /// <summary>
    /// afterSeq beyond what this node delivered. Within the store's last seq the client is only ahead of this node (it
    /// came from a node further on): nothing is missing, and live delivery starts after its afterSeq. Beyond the store's
    /// last seq too, no such signal exists: the store was reset or the position is from elsewhere. Like Centrifugo's
    /// recovery (an offset past the stream's top is not recovered, and the reply carries the top), the client is told
    /// recovered:false, its position is D, and live delivery starts at D + 1.
    /// </summary>
    private Join? JoinAhead(long afterSeq, long delivered, StoreView? view)
    {
        long newest = delivered;
        if (_context.History is not null)
        {
            if (view?.LastSeq is not long stored)
            {
                return null;
            }

            newest = Math.Max(delivered, stored);
        }

        if (afterSeq <= newest)
        {
            return new Join(afterSeq, true, [], null, afterSeq);
        }

        return new Join(delivered, false, [],
            $"afterSeq {afterSeq} is beyond the newest {Symbol} signal (seq {newest}): the signal store was reset, or this position " +
            $"is not from this deployment. Your position is now seq {delivered}: live signals follow from seq {delivered + 1}, and " +
            $"signals you hold after seq {delivered} are not this server's.", delivered, Beyond: true);
    }

    /// <summary>
    /// Before a client is told its afterSeq is beyond the end, gives this node and its store up to the read timeout to
    /// reach it: a client that saw the seq elsewhere is only ahead of a node whose bus (or a store that commits behind
    /// the fan-out) is late, and telling it to start over would hand it those signals twice.
    /// </summary>
    private async ValueTask<StoreView?> WaitForSeqAsync(long afterSeq, StoreView? view, CancellationToken cancellationToken)
    {
        var time = _context.Time;
        var started = time.GetTimestamp();
        var limit = _context.History?.Timeout ?? TimeSpan.FromSeconds(5);
        var delay = TimeSpan.FromMilliseconds(50);
        while (time.GetElapsedTime(started) < limit)
        {
            await Task.Delay(delay, time, cancellationToken).ConfigureAwait(false);
            delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, TimeSpan.TicksPerSecond / 2));
            if (DeliveredSeq >= afterSeq)
            {
                return view;
            }

            if (_context.History is { } history)
            {
                var last = await history.GetLastSeqAsync(Symbol, cancellationToken).ConfigureAwait(false);
                if (last >= afterSeq)
                {
                    return view is null ? null : view with { LastSeq = last };
                }
            }
        }

        return view;
    }

    /// <summary>
    /// Reads what a join needs from the store, outside the delivery lock: the store's last seq when this node has not
    /// delivered anything yet or the client claims more than it delivered, and either the latest signal per timeframe
    /// or the signals the client missed (at most the resume bound).
    /// </summary>
    private async ValueTask<StoreView> ReadStoreAsync(long? afterSeq, long deliveredBefore, CancellationToken cancellationToken)
    {
        var history = _context.History!;
        long? last = null;
        if (deliveredBefore < 0 || afterSeq > deliveredBefore)
        {
            last = await history.GetLastSeqAsync(Symbol, cancellationToken).ConfigureAwait(false);
        }

        var basis = deliveredBefore >= 0 ? deliveredBefore : last!.Value;
        if (afterSeq is not long after)
        {
            var latest = await history.ReadLatestSignalsAsync(Symbol, cancellationToken).ConfigureAwait(false);
            return new StoreView(last, basis, basis, latest);
        }

        if (after >= basis)
        {
            return new StoreView(last, basis, after, []);
        }

        var bound = _context.Options.MaxRecoverySignals;
        var from = basis - after > bound ? basis - bound : after;
        var stored = await history.ReadSignalsAsync(Symbol, from, bound, cancellationToken).ConfigureAwait(false);
        return new StoreView(last, basis, from, stored);
    }

    /// <summary>
    /// What a Subscribe read from the store: the store's last seq (when read), this node's delivered seq before the read
    /// (or the store's last seq on a new feed), and the signals read with seq &gt; <see cref="ReadAfter"/>.
    /// </summary>
    private sealed record StoreView(long? LastSeq, long Base, long ReadAfter, IReadOnlyList<Signal> Signals);

    /// <summary>A subscription's answer: its join point, recovery, snapshot, and the last seq it is not sent live.</summary>
    private sealed record Join(long LatestSeq, bool Recovered, List<Signal> Signals, string? Reason, long SkipUpTo, bool Beyond = false);

    public bool HasCandleSubscribers(Timeframe timeframe) => Volatile.Read(ref _candleSubscribers[(int)timeframe]).Length > 0;

    /// <summary>Sends the timeframe's candles to <paramref name="connection"/>, unless it is closing.</summary>
    /// <remarks>
    /// A SubscribeCandles that awaited its feed (a bus node's first subscriber) can get here after its connection was
    /// removed, whose cleanup found nothing in the feed to take: the dead connection would stay for good. The removal
    /// ends the output before it takes the subscriptions and removes them under this gate, so an add under the gate
    /// either comes first (and is taken away) or sees the output ended.
    /// </remarks>
    public void AddCandleSubscriber(Timeframe timeframe, ConnectionState connection)
    {
        lock (_candleGate)
        {
            if (connection.IsClosing)
            {
                return;
            }

            ref var slot = ref _candleSubscribers[(int)timeframe];
            if (Array.IndexOf(slot, connection) < 0)
            {
                Volatile.Write(ref slot, [.. slot, connection]);
            }
        }
    }

    public void RemoveCandleSubscriber(Timeframe timeframe, ConnectionState connection)
    {
        lock (_candleGate)
        {
            ref var slot = ref _candleSubscribers[(int)timeframe];
            if (Array.IndexOf(slot, connection) >= 0)
            {
                Volatile.Write(ref slot, Array.FindAll(slot, c => !ReferenceEquals(c, connection)));
            }
        }
    }

    /// <summary>
    /// Delivers <paramref name="first"/> and the candles queued right behind it (a closing burst's timeframes of this
    /// symbol, which close together): a subscriber gets its frames of the run in one offer, one gathered send where it
    /// had one a candle (BENCHMARKS.md, "The closing bell: a subscriber's candles in one send"). Only what is already
    /// queued is taken: nothing waits for a run to grow.
    /// </summary>
    private void DeliverCandleRun(CandleMessage first)
    {
        var run = CandleRun.ForThisThread();
        run.Candles.Add(first);
        while (run.Candles.Count < CandleRun.MaxCandles && _inbound.Reader.TryPeek(out var next) && next.Candle is { } candle && _inbound.Reader.TryRead(out _))
        {
            run.Candles.Add(candle);
        }

        try
        {
            foreach (var candle in run.Candles)
            {
                if (Volatile.Read(ref _candleSubscribers[(int)candle.Timeframe]).Length > SubscribersPerWorker)
                {
                    // A long list is offered from several threads (OfferAll); a run's order per subscriber is not kept
                    // across those, so each candle goes on its own.
                    foreach (var each in run.Candles)
                    {
                        DeliverCandle(each);
                    }

                    return;
                }
            }

            foreach (var candle in run.Candles)
            {
                var subscribers = Volatile.Read(ref _candleSubscribers[(int)candle.Timeframe]);
                if (subscribers.Length > 0)
                {
                    run.Add(subscribers, HubFrames.Invocation(HubNames.CandleEvent, candle, ContractsJsonContext.Default.CandleMessage));
                }
            }

            var sent = 0;
            foreach (var (connection, messages) in run.Targets)
            {
                if (messages.Count == 1)
                {
                    sent += Offer(connection, messages[0]);
                    continue;
                }

                var taken = connection.TryEnqueueRun(messages);
                if (taken < messages.Count && !connection.IsClosing)
                {
                    _context.SlowConsumer(connection);
                }

                sent += taken;
            }

            _context.Metrics.MessagesSent(sent);
        }
        finally
        {
            run.Clear();
        }
    }

    /// <summary>Sends a candle update, serialized once, to the stream's subscribers; the feed's loop calls it, in order.</summary>
    private void DeliverCandle(CandleMessage candle)
    {
        var subscribers = Volatile.Read(ref _candleSubscribers[(int)candle.Timeframe]);
        if (subscribers.Length == 0)
        {
            return;
        }

        var message = HubFrames.Invocation(HubNames.CandleEvent, candle, ContractsJsonContext.Default.CandleMessage);
        var sent = 0;
        foreach (var connection in subscribers)
        {
            sent += Offer(connection, message);
        }

        _context.Metrics.MessagesSent(sent);
    }
}
