using System.Net.Sockets;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.AspNetCore.SignalR;
using SignalStream.Contracts;
using SignalStream.Hub.Auth;
using SignalStream.Hub.FanOut.Internal;
using SignalStream.Hub.Hubs;
using SignalStream.Hub.Transport;

namespace SignalStream.Hub.FanOut;

/// <summary>
/// One client connection as fan-out sees it: its output (how frames reach it), its subscriptions and entitlements. The
/// hub's own per-connection state (admission slot, invocation budget) stays with the hub (ConnectionRegistry).
/// </summary>
/// <remarks>
/// Fan-out never awaits a client: it offers the shared, already serialized frame and moves on (<see cref="IClientOutput"/>).
/// A WebSocket client on a plain TCP socket gets it as one non-blocking send on the offering thread
/// (<see cref="SocketClientOutput"/>); any other goes through SignalR's pipe (<see cref="PipeClientOutput"/>). A connection
/// whose transport has taken nothing for <c>Hub:SlowConsumerMaxLag</c>, or that has <c>Hub:OutboundQueueLimit</c> frames
/// or <c>Hub:OutboundQueueBytes</c> bytes waiting, cannot keep up and is cut off (<see cref="CutOff"/>) with a close
/// message that says why.
/// </remarks>
internal sealed class ConnectionState
{
    private readonly Lock _gate = new();
    private readonly Dictionary<string, SignalSubscription> _signals = new(StringComparer.Ordinal);
    // Made on the first candle subscription: most clients follow signals only (64 B a connection saved).
    private HashSet<StreamKey>? _candles;

    private readonly TaskCompletionSource _finished = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly bool _watchesRequest;
    private readonly Socket? _socket;

    /// <param name="onOverflow">Cuts the connection off when SignalR's own replies take what waits past the byte bound.</param>
    public ConnectionState(HubConnectionContext context, SignalHubOptions options, TimeProvider time, Action<ConnectionState> onOverflow)
    {
        Context = context;
        Protocol = WireProtocols.Of(context.Protocol);
        var http = context.GetHttpContext();
        _socket = http?.Features.Get<IConnectionSocketFeature>()?.Socket;
        Output = http?.Features.Get<SocketFrameOutput>() is { } socket
            ? new SocketClientOutput(socket, context, options.OutboundQueueLimit, () => onOverflow(this))
            : new PipeClientOutput(context, options.OutboundQueueLimit, options.OutboundQueueBytes - PipeTransportBufferBytes, time);
        if (http is not null)
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

    /// <summary>The hub protocol its handshake chose: every frame of ours it gets is in this one.</summary>
    public WireProtocol Protocol { get; }

    /// <summary>How this connection's frames reach its client.</summary>
    public IClientOutput Output { get; }

    /// <summary>Why admission refused this connection at its handshake (long polling, which has no lasting connect
    /// request to count), or null when it holds a slot.</summary>
    public string? Refused { get; set; }

    /// <summary>
    /// SignalR's transport buffer (<c>TransportMaxBufferSize</c>, set to this): on the pipe path it is the part of
    /// <c>Hub:OutboundQueueBytes</c> that waits in SignalR's pipe, the rest in the output's own queue.
    /// </summary>
    public const int PipeTransportBufferBytes = 64 * 1024;

    public Entitlements Entitlements { get; set; } = Entitlements.Unrestricted;

    /// <summary>When the connection's access token expires (Unix ms), or 0 without a token.</summary>
    public long ExpiresAtMs { get; set; }

    /// <summary>Completes when everything queued has been handed on (or the connection died).</summary>
    public Task Writer => Output.Drained;

    /// <summary>
    /// Completes when the transport has finished (for WebSockets: the request ended, so every byte, the close message
    /// included, left the server), or when the connection is removed if there is no HTTP request to watch.
    /// </summary>
    public Task Finished => _finished.Task;

    public bool IsClosing => Output.HasEnded;

    public int SubscriptionCount
    {
        get
        {
            lock (_gate)
            {
                return _signals.Count + CandleCount;
            }
        }
    }

    /// <summary>Under <see cref="_gate"/>.</summary>
    private int CandleCount => _candles?.Count ?? 0;

    /// <summary>
    /// True when the client, not the node, holds up what waits for it: its socket's kernel send buffer is full (the
    /// client does not read, or reads slower than it is sent). False when the kernel would take more now, so what waits
    /// is waiting for the node itself (a send loop that has not run yet: the node is behind). Without a socket to look
    /// at (a test's in-memory pipes), the client is assumed to hold it up.
    /// </summary>
    public bool IsHeldUpByClient()
    {
        if (_socket is null)
        {
            return true;
        }

        try
        {
            return !_socket.Poll(0, SelectMode.SelectWrite);
        }
        catch (Exception ex) when (ex is ObjectDisposedException or SocketException)
        {
            return false; // the connection is ending on its own
        }
    }

    /// <summary>
    /// Hands a message, in this connection's protocol, to the connection without waiting: sent at once when nothing is
    /// waiting ahead of it, else queued behind what is. False when <c>Hub:OutboundQueueLimit</c> frames already wait (the
    /// caller cuts a slow consumer) or the connection is closing.
    /// </summary>
    public bool TryEnqueue(OutboundMessage message) => Output.TryOffer(message.FrameFor(Protocol));

    /// <summary>Offers messages that were ready together, in order (one gathered send when nothing waits); how many of the first were taken.</summary>
    public int TryEnqueueRun(IReadOnlyList<OutboundMessage> messages) => Output.TryOfferRun(messages, Protocol);

    /// <summary>
    /// Since when (a <see cref="TimeProvider.GetTimestamp"/> value) the transport has not taken what waits for it, or 0
    /// when nothing waits: how long this client has made no progress at all.
    /// </summary>
    public long StalledSince => Output.StalledSince;

    /// <summary>Sends a close message after what is already queued (so nothing queued is lost), then ends the connection.</summary>
    public void Close(string reason, bool allowReconnect) => Output.Close(HubFrames.Close(reason, allowReconnect, Protocol));

    /// <summary>
    /// Cuts off a client that cannot keep up: what waits for it is dropped (it will not read it in time anyway), a close
    /// message carrying <paramref name="reason"/> (reconnect allowed, so it can resume with afterSeq) goes out behind
    /// what the transport already holds, and the connection ends. A connection already closing whose close message waits
    /// behind what the client does not read is cut too, keeping that message. False when nothing was left to cut.
    /// </summary>
    public bool CutOff(string reason) => Output.CutOff(HubFrames.Close(reason, allowReconnect: true, Protocol));

    /// <summary>Called once SignalR has let go of the connection; ends <see cref="Finished"/> when no request is watched.</summary>
    public void OnRemoved()
    {
        if (!_watchesRequest)
        {
            _finished.TrySetResult();
        }
    }

    /// <summary>Ends the connection at once: nothing more is offered (the connection is gone).</summary>
    public void Abort() => Output.Abort();

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
            if (replaced is null && _signals.Count + CandleCount >= limit)
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
            if (_candles?.Contains(stream) == true)
            {
                return 1;
            }

            if (_signals.Count + CandleCount >= limit)
            {
                return -1;
            }

            (_candles ??= []).Add(stream);
            return 0;
        }
    }

    public bool RemoveCandleSubscription(StreamKey stream)
    {
        lock (_gate)
        {
            return _candles?.Remove(stream) == true;
        }
    }

    /// <summary>Takes every subscription away (on disconnect).</summary>
    public (SignalSubscription[] Signals, StreamKey[] Candles) TakeAll()
    {
        lock (_gate)
        {
            var result = (_signals.Values.ToArray(), _candles?.ToArray() ?? []);
            _signals.Clear();
            _candles = null;
            return result;
        }
    }
}
