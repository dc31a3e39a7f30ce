using SignalStream.Contracts;
using SignalStream.Contracts.Serialization;
using SignalStream.Hub.Hubs.Internal;

namespace SignalStream.Hub.FanOut.Internal;

internal sealed partial class SymbolFeed
{
    /// <summary>
    /// Computes the subscriber's snapshot and joins it to the live stream atomically: the snapshot holds every matching
    /// signal with afterSeq &lt; seq ≤ D (D = delivered when joining) and live delivery starts at D + 1.
    /// </summary>
    public async ValueTask<SubscribeResult> SubscribeAsync(
        SignalSubscription subscription, long? afterSeq, IReadOnlyList<string> timeframeNames, CancellationToken cancellationToken)
    {
        await _deliveryLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            await EnsureInitializedAsync(null, cancellationToken).ConfigureAwait(false);
            var delivered = Math.Max(_delivered, 0);
            var signals = new List<Signal>();
            var recovered = true;
            string? reason = null;
            if (afterSeq is not long after)
            {
                await ReadLatestAsync(delivered, signals, cancellationToken).ConfigureAwait(false);
                subscription.SkipUpTo = delivered;
            }
            else
            {
                (recovered, reason) = await ReadRangeAsync(after, delivered, signals, cancellationToken).ConfigureAwait(false);
                subscription.SkipUpTo = Math.Max(after, delivered);
            }

            signals.RemoveAll(s => !subscription.Covers(s.Timeframe) || s.Confidence < subscription.MinConfidence);
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
            return new SubscribeResult(Symbol, timeframeNames, delivered, recovered, signals, reason);
        }
        finally
        {
            _deliveryLock.Release();
        }
    }

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

    private async ValueTask ReadLatestAsync(long delivered, List<Signal> into, CancellationToken cancellationToken)
    {
        if (_context.History is { } history)
        {
            foreach (var signal in await history.ReadLatestSignalsAsync(Symbol, cancellationToken).ConfigureAwait(false))
            {
                // Newer ones are still on their way to this node: the subscriber receives them live.
                if (signal.Seq <= delivered)
                {
                    into.Add(signal);
                }
            }

            into.Sort(static (a, b) => a.Seq.CompareTo(b.Seq));
        }
        else
        {
            _ring.CopyLatestPerTimeframe(into);
        }
    }

    private async ValueTask<(bool Recovered, string? Reason)> ReadRangeAsync(
        long afterSeq, long delivered, List<Signal> into, CancellationToken cancellationToken)
    {
        var missed = delivered - afterSeq;
        if (missed <= 0)
        {
            return (true, null);
        }

        var bound = _context.Options.MaxRecoverySignals;
        var from = missed > bound ? delivered - bound : afterSeq;
        if (!_ring.TryCopyRange(from, delivered, into))
        {
            if (_context.History is not { } history)
            {
                return (false, $"This node keeps only its last {_ring.Count} signals of {Symbol} in memory and has no signal store; " +
                    $"signals after seq {afterSeq} up to {_ring.OldestSeq - 1} cannot be recovered here.");
            }

            var stored = await history.ReadSignalsAsync(Symbol, from, (int)(delivered - from), cancellationToken).ConfigureAwait(false);
            var expected = from + 1;
            foreach (var signal in stored)
            {
                if (signal.Seq != expected || signal.Seq > delivered)
                {
                    break;
                }

                into.Add(signal);
                expected++;
            }

            if (expected <= delivered)
            {
                into.Clear();
                return (false, $"The signal store does not have {Symbol} seq {expected} yet; retry Subscribe with the same afterSeq.");
            }
        }

        return missed > bound
            ? (false, $"{missed} signals of {Symbol} were missed after seq {afterSeq}, more than the resume limit of {bound}; " +
                $"these are the newest {bound}. Page the rest from /api/signals?symbol={Symbol}&afterSeq={afterSeq}&limit={bound}.")
            : (true, null);
    }

    public bool HasCandleSubscribers(Timeframe timeframe) => Volatile.Read(ref _candleSubscribers[(int)timeframe]).Length > 0;

    public void AddCandleSubscriber(Timeframe timeframe, ConnectionState connection)
    {
        lock (_candleGate)
        {
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

    /// <summary>Sends a candle update, serialized once, to the stream's subscribers; the feed's loop calls it, in order.</summary>
    private void DeliverCandle(CandleMessage candle)
    {
        var subscribers = Volatile.Read(ref _candleSubscribers[(int)candle.Timeframe]);
        if (subscribers.Length == 0)
        {
            return;
        }

        var frame = HubFrames.Invocation(HubNames.CandleEvent, candle, ContractsJsonContext.Default.CandleMessage);
        var sent = 0;
        foreach (var connection in subscribers)
        {
            sent += Offer(connection, frame);
        }

        _context.Metrics.MessagesSent(sent);
    }
}
