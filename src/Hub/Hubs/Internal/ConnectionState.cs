using System.Threading.Channels;
using Microsoft.AspNetCore.SignalR;
using Microsoft.AspNetCore.SignalR.Protocol;
using SignalStream.Contracts;
using SignalStream.Hub.Auth;
using SignalStream.Hub.FanOut;

namespace SignalStream.Hub.Hubs.Internal;

/// <summary>
/// One client connection: its bounded outbound queue with the loop that drains it into SignalR, its subscriptions,
/// entitlements and invocation budget.
/// </summary>
/// <remarks>
/// Fan-out never awaits a client: it offers the shared, already serialized frame to this queue and moves on. A client
/// that stops reading fills SignalR's pipe (64 KB), then this queue (<c>Hub:OutboundQueueLimit</c> messages); the next
/// offer fails and the connection is aborted as a slow consumer, so one stalled socket cannot hold up a symbol's loop.
/// </remarks>
internal sealed class ConnectionState
{
    private readonly Channel<SerializedHubMessage> _outbound;
    private readonly Lock _gate = new();
    private readonly Dictionary<string, SignalSubscription> _signals = new(StringComparer.Ordinal);
    private readonly HashSet<StreamKey> _candles = [];
    private int _closing;
    private int _refusals;

    private readonly TaskCompletionSource _finished = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly bool _watchesRequest;

    public ConnectionState(HubConnectionContext context, int outboundLimit, TokenBucket bucket)
    {
        Context = context;
        Bucket = bucket;
        if (context.GetHttpContext() is { } http)
        {
            _watchesRequest = true;
            http.Response.OnCompleted(static state =>
            {
                ((TaskCompletionSource)state).TrySetResult();
                return Task.CompletedTask;
            }, _finished);
        }

        _outbound = Channel.CreateBounded<SerializedHubMessage>(new BoundedChannelOptions(outboundLimit)
        {
            SingleReader = true,
            SingleWriter = false,
            FullMode = BoundedChannelFullMode.Wait, // TryWrite then reports "full" instead of dropping silently
        });
        Writer = Task.Run(RunWriterAsync);
    }

    public string Id => Context.ConnectionId;

    public HubConnectionContext Context { get; }

    public TokenBucket Bucket { get; }

    public Entitlements Entitlements { get; set; } = Entitlements.Unrestricted;

    /// <summary>When the connection's access token expires (Unix ms), or 0 without a token.</summary>
    public long ExpiresAtMs { get; set; }

    /// <summary>Completes when everything queued has been handed to SignalR (or the connection died).</summary>
    public Task Writer { get; }

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

    /// <summary>Queues a frame without waiting; false when the queue is full (the caller disconnects a slow consumer).</summary>
    public bool TryEnqueue(SerializedHubMessage message) => _outbound.Writer.TryWrite(message);

    /// <summary>Sends a close message after what is already queued (so nothing queued is lost), then ends the connection.</summary>
    public void Close(string reason, bool allowReconnect)
    {
        if (Interlocked.Exchange(ref _closing, 1) != 0)
        {
            return;
        }

        if (!_outbound.Writer.TryWrite(new SerializedHubMessage(new CloseMessage(reason, allowReconnect))))
        {
            Context.Abort();
        }

        _outbound.Writer.TryComplete();
    }

    /// <summary>Called once SignalR has let go of the connection; ends <see cref="Finished"/> when no request is watched.</summary>
    public void OnRemoved()
    {
        if (!_watchesRequest)
        {
            _finished.TrySetResult();
        }
    }

    /// <summary>Ends the connection at once, dropping what is queued: for a slow consumer that will not read it anyway.</summary>
    public bool Abort()
    {
        if (Interlocked.Exchange(ref _closing, 1) != 0)
        {
            return false;
        }

        _outbound.Writer.TryComplete();
        Context.Abort();
        return true;
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

    private async Task RunWriterAsync()
    {
        var reader = _outbound.Reader;
        var aborted = Context.ConnectionAborted;
        try
        {
            // No token here: with a cancellable token the channel allocates a waiter per wait, that is per delivered
            // message on an idle connection. Abort() and Close() complete the queue, which ends this wait just as well.
            while (await reader.WaitToReadAsync().ConfigureAwait(false))
            {
                while (reader.TryRead(out var message))
                {
                    await Context.WriteAsync(message, aborted).ConfigureAwait(false);
                    if (message.Message is CloseMessage)
                    {
                        Context.Abort();
                        return;
                    }
                }
            }
        }
        catch (OperationCanceledException)
        {
            // The connection went away; what is still queued has nobody to go to.
        }
    }
}
