using System.Diagnostics.CodeAnalysis;
using System.Threading.Channels;
using SignalStream.Contracts;
using SignalStream.Contracts.Serialization;

namespace SignalStream.Hub.FanOut.Internal;

/// <summary>
/// One symbol's delivery on this node: a single loop takes signals and outcomes in arrival order, guarantees contiguous
/// seq and outcomeSeq (drops duplicates, fills holes from the store before going past them), keeps the recent signals
/// and outcomes, and hands each message, serialized once, to the matching subscribers' outbound queues.
/// </summary>
/// <remarks>
/// The delivery lock is held while a message is processed and while <see cref="SubscribeAsync"/> joins its snapshot
/// to the live stream, so the snapshot ends exactly where live delivery to the new subscriber begins. Only the loop
/// reads the store under the lock (a hole must be filled before delivery goes past it); Subscribe and the periodic
/// catch-up read it outside.
/// </remarks>
[SuppressMessage("Design", "CA1001:Types that own disposable fields should be disposable", Justification = "Its SemaphoreSlim is only awaited (no AvailableWaitHandle), so it holds nothing to release.")]
internal sealed partial class SymbolFeed
{
    private readonly FeedContext _context;
    private readonly SemaphoreSlim _deliveryLock = new(1, 1);
    private readonly Lock _candleGate = new();
    private readonly Channel<FeedItem> _inbound;
    private readonly SignalRing _ring;
    private readonly Queue<SignalOutcome> _recentOutcomes = new();
    private readonly ConnectionState[][] _candleSubscribers;
    private readonly CancellationToken _stopping;
    private SignalSubscription[] _subscribers = [];
    private long _delivered = -1;
    private long _deliveredOutcome = -1;
    private int _catchingUp;

    public SymbolFeed(string symbol, FeedContext context, CancellationToken stopping)
    {
        Symbol = symbol;
        _context = context;
        _stopping = stopping;
        _ring = new SignalRing(context.Options.RecentSignalsPerSymbol);
        _candleSubscribers = new ConnectionState[Timeframes.All.Count][];
        Array.Fill(_candleSubscribers, []);
        _inbound = Channel.CreateBounded<FeedItem>(new BoundedChannelOptions(context.Options.InboundQueueLimit)
        {
            SingleReader = true,
            FullMode = BoundedChannelFullMode.Wait,
        });
        Loop = Task.Run(() => RunAsync(stopping), CancellationToken.None);
    }

    public string Symbol { get; }

    /// <summary>The newest seq delivered on this node, or -1 before the first signal or subscribe.</summary>
    public long DeliveredSeq => Volatile.Read(ref _delivered);

    /// <summary>The newest outcomeSeq delivered on this node, or -1 before the first numbered outcome or subscribe.</summary>
    public long DeliveredOutcomeSeq => Volatile.Read(ref _deliveredOutcome);

    public Task Loop { get; }

    /// <summary>Posts without waiting (bus receive path): false when the queue is full — the message is then lost here
    /// and repaired from the store like any other hole.</summary>
    public bool TryPost(FeedItem item) => _inbound.Writer.TryWrite(item);

    /// <summary>Posts with back-pressure (local engine path): nothing is lost.</summary>
    public ValueTask PostAsync(FeedItem item, CancellationToken cancellationToken) => _inbound.Writer.WriteAsync(item, cancellationToken);

    public void Complete() => _inbound.Writer.TryComplete();

    /// <summary>
    /// Compares the delivered seq and outcomeSeq with the store's last ones and, when the store is ahead, queues a fill up
    /// to them (signals or outcomes lost at the tail of a quiet symbol, or while the bus was away). The store is read
    /// here, outside the delivery lock, so an unreachable store delays nothing but this check; one check runs at a time.
    /// </summary>
    public void RequestCatchUp()
    {
        if (_context.History is null || DeliveredSeq < 0 || Interlocked.Exchange(ref _catchingUp, 1) == 1)
        {
            return;
        }

        _ = CatchUpAsync(_context.History);
    }

    private async Task CatchUpAsync(SignalHistoryReader history)
    {
        try
        {
            var last = await history.GetLastSeqAsync(Symbol, _stopping).ConfigureAwait(false);
            var lastOutcome = DeliveredOutcomeSeq < 0 ? 0 : await history.GetLastOutcomeSeqAsync(Symbol, _stopping).ConfigureAwait(false);
            if ((last > DeliveredSeq || (DeliveredOutcomeSeq >= 0 && lastOutcome > DeliveredOutcomeSeq)) && !TryPost(FeedItem.CatchUp(last, lastOutcome)))
            {
                Log.CatchUpQueueFull(_context.Logger, Symbol);
            }
        }
        catch (SignalHistoryUnavailableException)
        {
            // Logged by the reader; the next check (Hub:CatchUpInterval) tries again.
        }
        catch (OperationCanceledException) when (_stopping.IsCancellationRequested)
        {
            // Node shutting down.
        }
        finally
        {
            Volatile.Write(ref _catchingUp, 0);
        }
    }

    private async Task RunAsync(CancellationToken stopping)
    {
        try
        {
            await foreach (var item in _inbound.Reader.ReadAllAsync(stopping).ConfigureAwait(false))
            {
                await _deliveryLock.WaitAsync(stopping).ConfigureAwait(false);
                try
                {
                    if (item.Candle is { } candle && _inbound.Reader.TryPeek(out var next) && next.Candle is not null)
                    {
                        DeliverCandleRun(candle);
                    }
                    else
                    {
                        await ProcessAsync(item, stopping).ConfigureAwait(false);
                    }
                }
                catch (Exception ex) when (ex is not OperationCanceledException)
                {
                    // A bug or an unexpected store failure: this item is lost here, the next signal (or the periodic
                    // catch-up) finds the hole and repairs it, so the loop must stay alive.
                    Log.ProcessFailed(_context.Logger, ex, Symbol);
                }
                finally
                {
                    _deliveryLock.Release();
                }
            }
        }
        catch (OperationCanceledException) when (stopping.IsCancellationRequested)
        {
            // Node shutting down.
        }
    }

    private async ValueTask ProcessAsync(FeedItem item, CancellationToken cancellationToken)
    {
        if (item.Candle is { } candle)
        {
            DeliverCandle(candle);
        }
        else if (item.Signal is { } signal)
        {
            await EnsureInitializedAsync(signal.Seq, cancellationToken).ConfigureAwait(false);
            if (signal.Seq <= _delivered)
            {
                return; // already delivered: a duplicate from the bus, or filled from the store first
            }

            if (signal.Seq > _delivered + 1)
            {
                await FillAsync(signal.Seq - 1, cancellationToken).ConfigureAwait(false);
            }

            Emit(signal);
        }
        else if (item.Outcome is { } outcome)
        {
            await EnsureInitializedAsync(null, cancellationToken).ConfigureAwait(false);
            if (outcome.OutcomeSeq > 0)
            {
                await EnsureOutcomesInitializedAsync(outcome.OutcomeSeq, cancellationToken).ConfigureAwait(false);
                if (outcome.OutcomeSeq <= _deliveredOutcome)
                {
                    return; // already delivered: a duplicate from the bus, or filled from the store first
                }

                if (outcome.OutcomeSeq > _deliveredOutcome + 1)
                {
                    await FillOutcomesAsync(outcome.OutcomeSeq - 1, cancellationToken).ConfigureAwait(false);
                }
            }

            await EmitOutcomeAfterItsSignalAsync(outcome, cancellationToken).ConfigureAwait(false);
        }
        else
        {
            if (_delivered >= 0 && item.CatchUpTo > _delivered)
            {
                await FillAsync(item.CatchUpTo, cancellationToken).ConfigureAwait(false);
            }

            if (_deliveredOutcome >= 0 && item.CatchUpOutcomesTo > _deliveredOutcome)
            {
                await FillOutcomesAsync(item.CatchUpOutcomesTo, cancellationToken).ConfigureAwait(false);
            }
        }
    }

    /// <summary>Emits an outcome; when its signal was lost on the way, that signal (and what precedes it) goes first.</summary>
    private async ValueTask EmitOutcomeAfterItsSignalAsync(SignalOutcome outcome, CancellationToken cancellationToken)
    {
        if (_delivered >= 0 && outcome.SignalSeq > _delivered)
        {
            await FillAsync(outcome.SignalSeq, cancellationToken).ConfigureAwait(false);
        }

        EmitOutcome(outcome);
    }

    /// <summary>Sets the delivered outcomeSeq on first use, as <see cref="EnsureInitializedAsync"/> does the seq.</summary>
    private async ValueTask EnsureOutcomesInitializedAsync(long firstOutcomeSeq, CancellationToken cancellationToken)
    {
        if (_deliveredOutcome >= 0)
        {
            return;
        }

        var start = firstOutcomeSeq - 1;
        if (_context.History is { } history)
        {
            try
            {
                start = Math.Min(start, await history.GetLastOutcomeSeqAsync(Symbol, cancellationToken).ConfigureAwait(false));
            }
            catch (SignalHistoryUnavailableException)
            {
                // Logged by the reader: start at this outcome rather than hold the symbol's delivery.
            }
        }

        Volatile.Write(ref _deliveredOutcome, start);
    }

    /// <summary>Delivers the stored outcomes after the delivered outcomeSeq up to <paramref name="upToOutcomeSeq"/>, as
    /// <see cref="FillAsync"/> does signals.</summary>
    private async ValueTask FillOutcomesAsync(long upToOutcomeSeq, CancellationToken cancellationToken)
    {
        var holeStart = _deliveredOutcome + 1;
        if (_context.History is not { } history)
        {
            Log.OutcomeHoleWithoutStore(_context.Logger, Symbol, holeStart, upToOutcomeSeq);
            SkipOutcomesTo(upToOutcomeSeq);
            return;
        }

        var repaired = 0;
        await RetryUntilRepairedAsync(
            async ct =>
            {
                var progressed = false;
                var limit = (int)Math.Min(upToOutcomeSeq - _deliveredOutcome, 1000);
                var stored = await history.ReadOutcomesAsync(Symbol, _deliveredOutcome, limit, ct).ConfigureAwait(false);
                foreach (var outcome in stored)
                {
                    // The store's versions are contiguous; a gap in what it returns is an unreadable event or a shadow
                    // outcome stored before they had their own stream, never one still to come.
                    if (outcome.OutcomeSeq <= _deliveredOutcome || outcome.OutcomeSeq > upToOutcomeSeq)
                    {
                        continue;
                    }

                    await EmitOutcomeAfterItsSignalAsync(outcome, ct).ConfigureAwait(false);
                    repaired++;
                    progressed = true;
                }

                return progressed;
            },
            () => _deliveredOutcome >= upToOutcomeSeq,
            () =>
            {
                Log.OutcomeHoleNotRepaired(_context.Logger, Symbol, _deliveredOutcome + 1, upToOutcomeSeq, _context.Options.HoleRepairTimeout);
                SkipOutcomesTo(upToOutcomeSeq);
            },
            cancellationToken).ConfigureAwait(false);

        if (repaired > 0)
        {
            _context.Metrics.HolesRepaired(repaired);
            Log.OutcomeHoleRepaired(_context.Logger, Symbol, holeStart, _deliveredOutcome);
        }
    }

    private void SkipOutcomesTo(long outcomeSeq)
    {
        Volatile.Write(ref _deliveredOutcome, outcomeSeq);
        _recentOutcomes.Clear();
    }

    /// <summary>Sets the delivered seq on first use: the store's last seq (or, for a first live signal, the seq before it
    /// when that is lower, since the store may still be writing it).</summary>
    private async ValueTask EnsureInitializedAsync(long? firstSeq, CancellationToken cancellationToken)
    {
        if (_delivered >= 0)
        {
            return;
        }

        if (_context.History is not { } history)
        {
            if (firstSeq is long first)
            {
                Volatile.Write(ref _delivered, first - 1);
            }

            return;
        }

        try
        {
            var last = await history.GetLastSeqAsync(Symbol, cancellationToken).ConfigureAwait(false);
            Volatile.Write(ref _delivered, firstSeq is long seq ? Math.Min(last, seq - 1) : last);
        }
        catch (SignalHistoryUnavailableException)
        {
            // Waiting longer for the store would hold this symbol's delivery: start at this signal (an outcome leaves the
            // feed unset). A subscriber that joined earlier is unaffected (its Subscribe set the delivered seq from the
            // store); later ones resume from the store.
            if (firstSeq is long seq)
            {
                Log.StartedWithoutStore(_context.Logger, Symbol, seq);
                Volatile.Write(ref _delivered, seq - 1);
            }
        }
    }

    /// <summary>Delivers the stored signals after the delivered seq up to <paramref name="upToSeq"/>, retrying while the
    /// store does not have them yet (the engine persists while it publishes).</summary>
    private async ValueTask FillAsync(long upToSeq, CancellationToken cancellationToken)
    {
        var holeStart = _delivered + 1;
        if (_context.History is not { } history)
        {
            Log.HoleWithoutStore(_context.Logger, Symbol, holeStart, upToSeq);
            SkipTo(upToSeq);
            return;
        }

        var repaired = 0;
        await RetryUntilRepairedAsync(
            async ct =>
            {
                var progressed = false;
                var limit = (int)Math.Min(upToSeq - _delivered, 1000);
                var stored = await history.ReadSignalsAsync(Symbol, _delivered, limit, ct).ConfigureAwait(false);
                foreach (var signal in stored)
                {
                    if (signal.Seq != _delivered + 1 || signal.Seq > upToSeq)
                    {
                        break; // the store itself is not contiguous yet: wait for it
                    }

                    Emit(signal);
                    repaired++;
                    progressed = true;
                }

                return progressed;
            },
            () => _delivered >= upToSeq,
            () =>
            {
                Log.HoleNotRepaired(_context.Logger, Symbol, _delivered + 1, upToSeq, _context.Options.HoleRepairTimeout);
                SkipTo(upToSeq);
            },
            cancellationToken).ConfigureAwait(false);

        if (repaired > 0)
        {
            _context.Metrics.HolesRepaired(repaired);
            Log.HoleRepaired(_context.Logger, Symbol, holeStart, holeStart + repaired - 1);
        }
    }

    /// <summary>
    /// The repair loop of signals and outcomes alike: reads from the store until <paramref name="repaired"/> holds,
    /// backing off (<c>Hub:HoleRetryDelay</c>, doubling to 1 s) while the store has nothing new yet (the engine persists
    /// while it publishes), and past <c>Hub:HoleRepairTimeout</c> without progress calls <paramref name="giveUp"/>.
    /// </summary>
    private async ValueTask RetryUntilRepairedAsync(
        Func<CancellationToken, ValueTask<bool>> readOnce, Func<bool> repaired, Action giveUp, CancellationToken cancellationToken)
    {
        var time = _context.Time;
        var started = time.GetTimestamp();
        var delay = _context.Options.HoleRetryDelay;
        while (!repaired())
        {
            var progressed = false;
            try
            {
                progressed = await readOnce(cancellationToken).ConfigureAwait(false);
            }
            catch (SignalHistoryUnavailableException)
            {
                // Logged by the reader; retried below until Hub:HoleRepairTimeout.
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                Log.StoreReadFailed(_context.Logger, ex, Symbol);
            }

            if (progressed || repaired())
            {
                continue;
            }

            if (time.GetElapsedTime(started) >= _context.Options.HoleRepairTimeout)
            {
                giveUp();
                break;
            }

            await Task.Delay(delay, time, cancellationToken).ConfigureAwait(false);
            delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, TimeSpan.TicksPerSecond));
        }
    }

    private void SkipTo(long seq)
    {
        Volatile.Write(ref _delivered, seq);
        _ring.Clear();
    }

    private void Emit(Signal signal)
    {
        Volatile.Write(ref _delivered, signal.Seq);
        _ring.Add(signal);
        var subscribers = Volatile.Read(ref _subscribers);
        if (subscribers.Length > 0)
        {
            var message = HubFrames.Invocation(HubNames.SignalEvent, signal, ContractsJsonContext.Default.Signal);
            _context.Metrics.MessagesSent(OfferAll(subscribers, new Audience(signal, null, 0), message));
        }
    }

    private void EmitOutcome(SignalOutcome outcome)
    {
        if (outcome.OutcomeSeq > 0)
        {
            Volatile.Write(ref _deliveredOutcome, outcome.OutcomeSeq);
            if (outcome.IsShadow)
            {
                return; // stored among the published ones by an older build: its position is passed, it is not sent
            }

            if (_recentOutcomes.Count > 0 && _recentOutcomes.Count >= _context.Options.RecentSignalsPerSymbol)
            {
                _recentOutcomes.Dequeue();
            }

            _recentOutcomes.Enqueue(outcome);
        }

        var subscribers = Volatile.Read(ref _subscribers);
        if (subscribers.Length > 0)
        {
            var message = HubFrames.Invocation(HubNames.SignalResolvedEvent, outcome, ContractsJsonContext.Default.SignalOutcome);
            _context.Metrics.MessagesSent(OfferAll(subscribers, new Audience(null, outcome, ResolvedConfidence(outcome)), message));
        }
    }

    /// <summary>The resolved signal's confidence when this node still holds it (unknown: every subscriber's filter passes):
    /// a subscriber that filtered the signal out by confidence does not want its outcome either.</summary>
    private double ResolvedConfidence(SignalOutcome outcome) =>
        _ring.TryGet(outcome.SignalSeq, out var signal) ? signal!.Confidence : double.MaxValue;

    /// <summary>
    /// Offers <paramref name="message"/> to every subscriber in <paramref name="audience"/>; returns how many took it. A
    /// long list is split across the cores, and all of it is offered before this returns, so the next message of the
    /// symbol never overtakes this one on any connection.
    /// </summary>
    /// <remarks>
    /// An offer to a connection whose socket the node writes is a system call on this thread (7.2 µs a delivery on
    /// loopback, the reader's share included: BENCHMARKS.md, "Hub fan-out (micro)"), so one thread would cap a popular
    /// symbol near 140k deliveries/s; SignalR's path used to spread
    /// that work over Kestrel's socket threads.
    /// </remarks>
    private int OfferAll(SignalSubscription[] subscribers, Audience audience, OutboundMessage message)
    {
        if (subscribers.Length <= SubscribersPerWorker || Environment.ProcessorCount == 1)
        {
            return OfferRange(subscribers, 0, subscribers.Length, audience, message);
        }

        var sent = 0;
        var chunks = (subscribers.Length + SubscribersPerWorker - 1) / SubscribersPerWorker;
        Parallel.For(0, chunks, chunk =>
        {
            var from = chunk * SubscribersPerWorker;
            var to = Math.Min(from + SubscribersPerWorker, subscribers.Length);
            Interlocked.Add(ref sent, OfferRange(subscribers, from, to, audience, message));
        });
        return sent;
    }

    private int OfferRange(SignalSubscription[] subscribers, int from, int to, Audience audience, OutboundMessage message)
    {
        var sent = 0;
        for (var i = from; i < to; i++)
        {
            if (audience.Includes(subscribers[i]))
            {
                sent += Offer(subscribers[i].Connection, message);
            }
        }

        return sent;
    }

    /// <summary>Subscribers one worker offers a message to; longer lists are split across the cores.</summary>
    internal const int SubscribersPerWorker = 256;

    /// <summary>Who receives a message: a signal's own filter, or, for an outcome, its outcomeSeq, its timeframe and the
    /// resolved signal's confidence.</summary>
    private readonly record struct Audience(Signal? Signal, SignalOutcome? Outcome, double Confidence)
    {
        public bool Includes(SignalSubscription subscriber) => Signal is { } signal
            ? subscriber.Wants(signal)
            : subscriber.Wants(Outcome!, Confidence);
    }

    private int Offer(ConnectionState connection, OutboundMessage message)
    {
        if (connection.TryEnqueue(message))
        {
            return 1;
        }

        if (!connection.IsClosing)
        {
            _context.SlowConsumer(connection);
        }

        return 0;
    }

    private static partial class Log
    {
        [LoggerMessage(5200, LogLevel.Information, "Repaired a hole in {Symbol}: seq {From}..{To} read from the store")]
        public static partial void HoleRepaired(ILogger logger, string symbol, long from, long to);

        [LoggerMessage(5201, LogLevel.Error, "{Symbol}: seq {From}..{To} did not appear in the store within {Timeout}; delivering past the hole (clients can page /api/signals when it appears)")]
        public static partial void HoleNotRepaired(ILogger logger, string symbol, long from, long to, TimeSpan timeout);

        [LoggerMessage(5202, LogLevel.Warning, "{Symbol}: seq {From}..{To} missing and this node has no signal store to repair from")]
        public static partial void HoleWithoutStore(ILogger logger, string symbol, long from, long to);

        [LoggerMessage(5203, LogLevel.Warning, "Reading {Symbol} from the signal store failed; retrying")]
        public static partial void StoreReadFailed(ILogger logger, Exception exception, string symbol);

        [LoggerMessage(5204, LogLevel.Error, "Delivering a {Symbol} message failed; the next signal or catch-up repairs what it missed")]
        public static partial void ProcessFailed(ILogger logger, Exception exception, string symbol);

        [LoggerMessage(5205, LogLevel.Information, "Repaired an outcome hole in {Symbol}: outcomeSeq {From}..{To} read from the store")]
        public static partial void OutcomeHoleRepaired(ILogger logger, string symbol, long from, long to);

        [LoggerMessage(5206, LogLevel.Error, "{Symbol}: outcomeSeq {From}..{To} did not appear in the store within {Timeout}; delivering past the hole (clients resuming by afterOutcomeSeq still get them once stored)")]
        public static partial void OutcomeHoleNotRepaired(ILogger logger, string symbol, long from, long to, TimeSpan timeout);

        [LoggerMessage(5207, LogLevel.Warning, "{Symbol}: outcomeSeq {From}..{To} missing and this node has no signal store to repair from")]
        public static partial void OutcomeHoleWithoutStore(ILogger logger, string symbol, long from, long to);

        [LoggerMessage(5222, LogLevel.Warning, "{Symbol}: the signal store could not be read for the delivered seq; delivery starts at seq {Seq}")]
        public static partial void StartedWithoutStore(ILogger logger, string symbol, long seq);

        [LoggerMessage(5223, LogLevel.Warning, "{Symbol}: inbound queue full, a catch-up was dropped (the next one retries)")]
        public static partial void CatchUpQueueFull(ILogger logger, string symbol);
    }
}
