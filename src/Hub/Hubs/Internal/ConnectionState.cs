using Microsoft.AspNetCore.Connections.Features;
using Microsoft.AspNetCore.SignalR;
using Microsoft.AspNetCore.SignalR.Protocol;
using SignalStream.Contracts;
using SignalStream.Hub.Auth;
using SignalStream.Hub.FanOut;

namespace SignalStream.Hub.Hubs.Internal;

/// <summary>
/// One client connection: its bounded outbound queue and the drain that hands it to SignalR, its subscriptions,
/// entitlements and invocation budget.
/// </summary>
/// <remarks>
/// Fan-out never awaits a client: it offers the shared, already serialized frame and moves on. While the connection
/// keeps up, the offer writes the frame straight into SignalR's pipe on the offering thread (no queue, no thread hop);
/// only when a write cannot complete at once (the transport is back-pressuring, or SignalR is writing something of its
/// own) do frames wait in the queue, in order, for the drain that resumes when the transport takes them. A connection
/// whose transport has taken nothing for <c>Hub:SlowConsumerMaxLag</c>, or that has <c>Hub:OutboundQueueLimit</c>
/// frames waiting, cannot keep up and is cut off (<see cref="CutOff"/>) with a close message that says why.
/// </remarks>
internal sealed class ConnectionState
{
    private readonly Lock _gate = new();
    private readonly Dictionary<string, SignalSubscription> _signals = new(StringComparer.Ordinal);
    private readonly HashSet<StreamKey> _candles = [];
    private int _closing;
    private int _refusals;

    private readonly TaskCompletionSource _finished = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly bool _watchesRequest;

    // The outbound side: everything below is guarded by _outboundGate.
    private readonly Lock _outboundGate = new();
    private readonly Queue<Outbound> _outbound = new();
    private readonly int _outboundLimit;
    private readonly TimeProvider _time;
    private readonly TaskCompletionSource _writerDone = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private bool _draining;
    private bool _completed;
    private long _stalledSince;

    public ConnectionState(HubConnectionContext context, int outboundLimit, TokenBucket bucket, TimeProvider time)
    {
        Context = context;
        Bucket = bucket;
        _outboundLimit = outboundLimit;
        _time = time;
        if (context.GetHttpContext() is { } http)
        {
            _watchesRequest = true;
            http.Response.OnCompleted(static state =>
            {
                ((TaskCompletionSource)state).TrySetResult();
                return Task.CompletedTask;
            }, _finished);
        }
    }

    public string Id => Context.ConnectionId;

    public HubConnectionContext Context { get; }

    public TokenBucket Bucket { get; }

    public Entitlements Entitlements { get; set; } = Entitlements.Unrestricted;

    /// <summary>When the connection's access token expires (Unix ms), or 0 without a token.</summary>
    public long ExpiresAtMs { get; set; }

    /// <summary>Completes when everything queued has been handed to SignalR (or the connection died).</summary>
    public Task Writer => _writerDone.Task;

    /// <summary>
    /// Completes when the transport has finished (for WebSockets: the request ended, so every byte, the close message
    /// included, left the server), or when the connection is removed if there is no HTTP request to watch.
    /// </summary>
    public Task Finished => _finished.Task;

    public bool IsClosing => Volatile.Read(ref _closing) != 0;

    public int SubscriptionCount
    {
        get
        {
            lock (_gate)
            {
                return _signals.Count + _candles.Count;
            }
        }
    }

    /// <summary>Counts a rate-limit refusal in a row; returns how many so far.</summary>
    public int CountRefusal() => Interlocked.Increment(ref _refusals);

    public void ResetRefusals() => Volatile.Write(ref _refusals, 0);

    /// <summary>
    /// Hands a frame to the connection without waiting: written at once when nothing is waiting ahead of it, else queued
    /// behind what is. False when <c>Hub:OutboundQueueLimit</c> frames already wait (the caller cuts a slow consumer) or
    /// the connection is closing.
    /// </summary>
    public bool TryEnqueue(SerializedHubMessage message)
    {
        lock (_outboundGate)
        {
            if (_completed || _outbound.Count >= _outboundLimit)
            {
                return false;
            }

            _outbound.Enqueue(new Outbound(message, Cut: false));
            if (_draining)
            {
                return true;
            }

            _draining = true;
        }

        Drain();
        return true;
    }

    /// <summary>
    /// Since when (a <see cref="TimeProvider.GetTimestamp"/> value) the transport has not taken the frame being written,
    /// or 0 when no write is waiting: how long this client has made no progress at all.
    /// </summary>
    public long StalledSince => Volatile.Read(ref _stalledSince);

    /// <summary>Sends a close message after what is already queued (so nothing queued is lost), then ends the connection.</summary>
    public void Close(string reason, bool allowReconnect)
    {
        if (Interlocked.Exchange(ref _closing, 1) != 0)
        {
            return;
        }

        var close = new SerializedHubMessage(new CloseMessage(reason, allowReconnect));
        lock (_outboundGate)
        {
            _completed = true;
            _outbound.Enqueue(new Outbound(close, Cut: false));
            if (_draining)
            {
                return;
            }

            _draining = true;
        }

        Drain();
    }

    /// <summary>
    /// Cuts off a client that cannot keep up: what waits for it is dropped (it will not read it in time anyway), a close
    /// message carrying <paramref name="reason"/> (reconnect allowed, so it can resume with afterSeq) goes out behind
    /// what the transport already holds, and the connection ends. False when it was already closing.
    /// </summary>
    public bool CutOff(string reason)
    {
        if (Interlocked.Exchange(ref _closing, 1) != 0)
        {
            return false;
        }

        var close = new SerializedHubMessage(new CloseMessage(reason, allowReconnect: true));
        bool drainHere;
        lock (_outboundGate)
        {
            _completed = true;
            _outbound.Clear();
            _outbound.Enqueue(new Outbound(close, Cut: true));
            drainHere = !_draining;
            _draining = true;
        }

        // A write to a client that does not read waits on the transport while holding SignalR's write lock. Cancelling
        // that flush (a result, not an exception: SignalR records no error) releases the lock with the bytes left in
        // the pipe, so the close goes out right behind them.
        Context.Features.Get<IConnectionTransportFeature>()?.Transport.Output.CancelPendingFlush();
        if (drainHere)
        {
            Drain();
        }

        return true;
    }

    /// <summary>Called once SignalR has let go of the connection; ends <see cref="Finished"/> when no request is watched.</summary>
    public void OnRemoved()
    {
        if (!_watchesRequest)
        {
            _finished.TrySetResult();
        }
    }

    /// <summary>Ends the connection at once, dropping what is queued (the connection is gone). False when already closing.</summary>
    public bool Abort()
    {
        var first = Interlocked.Exchange(ref _closing, 1) == 0;
        lock (_outboundGate)
        {
            _completed = true;
            _outbound.Clear();
            if (!_draining)
            {
                _writerDone.TrySetResult();
            }
        }

        Context.Abort();
        return first;
    }

    public SignalSubscription? GetSignalSubscription(string symbol)
    {
        lock (_gate)
        {
            return _signals.GetValueOrDefault(symbol);
        }
    }

    /// <summary>Adds or replaces a symbol's subscription; false when it would pass <paramref name="limit"/>.</summary>
    public bool TryAddSignalSubscription(SignalSubscription subscription, int limit, out SignalSubscription? replaced)
    {
        lock (_gate)
        {
            replaced = _signals.GetValueOrDefault(subscription.Symbol);
            if (replaced is null && _signals.Count + _candles.Count >= limit)
            {
                return false;
            }

            _signals[subscription.Symbol] = subscription;
            return true;
        }
    }

    public SignalSubscription? RemoveSignalSubscription(string symbol)
    {
        lock (_gate)
        {
            return _signals.Remove(symbol, out var removed) ? removed : null;
        }
    }

    /// <summary>0 when added, 1 when already there, -1 when it would pass <paramref name="limit"/>.</summary>
    public int TryAddCandleSubscription(StreamKey stream, int limit)
    {
        lock (_gate)
        {
            if (_candles.Contains(stream))
            {
                return 1;
            }

            if (_signals.Count + _candles.Count >= limit)
            {
                return -1;
            }

            _candles.Add(stream);
            return 0;
        }
    }

    public bool RemoveCandleSubscription(StreamKey stream)
    {
        lock (_gate)
        {
            return _candles.Remove(stream);
        }
    }

    /// <summary>Takes every subscription away (on disconnect).</summary>
    public (SignalSubscription[] Signals, StreamKey[] Candles) TakeAll()
    {
        lock (_gate)
        {
            var result = (_signals.Values.ToArray(), _candles.ToArray());
            _signals.Clear();
            _candles.Clear();
            return result;
        }
    }

    /// <summary>
    /// Writes what is queued, in order, on the calling thread while SignalR takes each frame at once; when a write has to
    /// wait, the rest continues in <see cref="DrainAfterAsync"/> once it completes. Only one drain runs at a time.
    /// </summary>
    private void Drain()
    {
        var aborted = Context.ConnectionAborted;
        while (true)
        {
            Outbound next;
            lock (_outboundGate)
            {
                if (!_outbound.TryDequeue(out next))
                {
                    _draining = false;
                    if (_completed)
                    {
                        _writerDone.TrySetResult();
                    }

                    return;
                }
            }

            ValueTask write;
            try
            {
                write = Context.WriteAsync(next.Message, aborted);
            }
            catch (OperationCanceledException)
            {
                Finish();
                return;
            }

            if (next.Message.Message is CloseMessage)
            {
                _ = CloseAfterAsync(write, next.Cut);
                return;
            }

            if (!write.IsCompletedSuccessfully)
            {
                Volatile.Write(ref _stalledSince, _time.GetTimestamp());
                _ = DrainAfterAsync(write);
                return;
            }
        }
    }

    private async Task DrainAfterAsync(ValueTask write)
    {
        try
        {
            await write.ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            Finish(); // the connection went away; what is still queued has nobody to go to
            return;
        }

        Volatile.Write(ref _stalledSince, 0);
        Drain();
    }

    /// <summary>Ends the connection once the close message is in SignalR's pipe. A cut-off does not wait for a client
    /// that does not read: its flush is cancelled (the bytes stay in the pipe) and the transport sends the close behind
    /// what it already holds, if the client reads again before the transport gives up.</summary>
    private async Task CloseAfterAsync(ValueTask write, bool cut)
    {
        if (cut)
        {
            Context.Features.Get<IConnectionTransportFeature>()?.Transport.Output.CancelPendingFlush();
        }

        try
        {
            await write.ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // Aborted while the close waited for SignalR's write lock: the connection is gone anyway.
        }

        Context.Abort();
        Finish();
    }

    private void Finish()
    {
        lock (_outboundGate)
        {
            _completed = true;
            _outbound.Clear();
            _draining = false;
        }

        Volatile.Write(ref _stalledSince, 0);

        _writerDone.TrySetResult();
    }

    /// <summary>A frame waiting for the transport; <c>Cut</c> marks a slow consumer's close.</summary>
    private readonly record struct Outbound(SerializedHubMessage Message, bool Cut);
}
