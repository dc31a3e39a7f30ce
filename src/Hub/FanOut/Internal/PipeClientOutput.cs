using Microsoft.AspNetCore.Connections.Features;
using Microsoft.AspNetCore.SignalR;

namespace SignalStream.Hub.FanOut.Internal;

/// <summary>
/// A client reached through SignalR's own send path: its pipe, its transport and Kestrel. Used where the node does not
/// write the socket itself (<see cref="SocketClientOutput"/>): TLS, the Server-Sent Events and long-polling transports,
/// <c>Hub:DirectSocketSends=false</c>.
/// </summary>
/// <remarks>
/// While the connection keeps up, an offer writes the frame straight into SignalR's pipe on the offering thread (no
/// queue, no thread hop); only when a write cannot complete at once (the transport is back-pressuring, or SignalR is
/// writing something of its own) do frames wait in the queue, in order, for the drain that resumes when the transport
/// takes them.
/// <para>
/// What the node holds for such a client is in two places: this queue, bounded at <paramref name="byteLimit"/> bytes
/// (and <paramref name="limit"/> frames), and SignalR's pipe, which takes writes (ours and SignalR's own replies) only
/// while it holds less than its transport buffer (<c>TransportMaxBufferSize</c>, 64 KB): SignalR waits for each of its
/// writes, so a client that does not read its replies stops SignalR from reading its next request.
/// </para>
/// </remarks>
internal sealed class PipeClientOutput(HubConnectionContext context, int limit, long byteLimit, TimeProvider time) : IClientOutput
{
    private readonly Lock _gate = new();
    private readonly Queue<Outbound> _queue = new();
    private readonly TaskCompletionSource _drained = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private bool _draining;
    private bool _completed;
    private bool _cut;
    private long _stalledSince;
    private long _queuedBytes;
    private long _peakQueuedBytes;

    public long StalledSince => Volatile.Read(ref _stalledSince);

    public long QueuedBytes => Volatile.Read(ref _queuedBytes);

    public long PeakQueuedBytes => Volatile.Read(ref _peakQueuedBytes);

    public Task Drained => _drained.Task;

    public bool HasEnded
    {
        get
        {
            lock (_gate)
            {
                return _completed;
            }
        }
    }

    public bool TryOffer(OutboundFrame frame)
    {
        lock (_gate)
        {
            var length = frame.WebSocketFrame.Length;
            if (_completed || _queue.Count >= limit || (_queuedBytes > 0 && _queuedBytes + length > byteLimit))
            {
                return false;
            }

            _queue.Enqueue(new Outbound(frame, Closes: false, Cut: false));
            Count(length);
            if (_draining)
            {
                return true;
            }

            _draining = true;
        }

        Drain();
        return true;
    }

    public bool Close(OutboundFrame close)
    {
        lock (_gate)
        {
            if (_completed)
            {
                return false;
            }

            _completed = true;
            _queue.Enqueue(new Outbound(close, Closes: true, Cut: false));
            Count(close.WebSocketFrame.Length);
            if (_draining)
            {
                return true;
            }

            _draining = true;
        }

        Drain();
        return true;
    }

    public bool CutOff(OutboundFrame close)
    {
        bool drainHere;
        var closeBeingWritten = false;
        lock (_gate)
        {
            if (_cut || (_completed && !_draining))
            {
                return false; // cut already, or ended with nothing waiting
            }

            _cut = true;
            drainHere = !_draining;
            _draining = true;
            if (_completed)
            {
                // Closed (token expiry, flooding, shutdown) while the client does not read: its close waits behind a
                // write only a reading client completes. It is cut like any slow consumer, keeping its own close message.
                closeBeingWritten = !TryCutToTheClose();
            }
            else
            {
                _completed = true;
                _queue.Clear();
                Volatile.Write(ref _queuedBytes, 0);
                _queue.Enqueue(new Outbound(close, Closes: true, Cut: true));
                Count(close.WebSocketFrame.Length);
            }
        }

        // A write to a client that does not read waits on the transport while holding SignalR's write lock. Cancelling
        // that flush (a result, not an exception: SignalR records no error) releases the lock with the bytes left in
        // the pipe, so the close goes out right behind them.
        CancelPendingFlush();
        if (closeBeingWritten)
        {
            context.Abort(); // the close itself is the write that waits: nothing is to go out behind it
        }

        if (drainHere)
        {
            Drain();
        }

        _ = EndCutByDeadlineAsync();
        return true;
    }

    /// <summary>How long a cut connection's last writes may wait on its transport before the next step to end it.</summary>
    internal static readonly TimeSpan CutDeadline = TimeSpan.FromSeconds(1);

    /// <summary>
    /// Ends a cut connection whatever its writes wait for. The cut cancels the flush in progress, but a write waiting for
    /// SignalR's write lock (ours, or SignalR's own) takes the lock once that flush lets go and waits in a flush of its
    /// own, with the close behind it, for a client that does not read: so past the deadline the flush is cancelled
    /// once more (the close goes in behind it), and past a second one the connection is aborted as it stands.
    /// </summary>
    private async Task EndCutByDeadlineAsync()
    {
        for (var attempt = 0; attempt < 2; attempt++)
        {
            try
            {
                await _drained.Task.WaitAsync(CutDeadline, time).ConfigureAwait(false);
                return;
            }
            catch (TimeoutException)
            {
                CancelPendingFlush();
            }
        }

        context.Abort();
        Finish();
    }

    /// <summary>Under <see cref="_gate"/>, on a closed output: drops what waits ahead of its close message (the last frame
    /// queued), which goes out as a cut's does. False when the close is no longer queued (it is being written).</summary>
    private bool TryCutToTheClose()
    {
        if (_queue.Count == 0)
        {
            return false;
        }

        var close = _queue.ToArray()[^1];
        _queue.Clear();
        Volatile.Write(ref _queuedBytes, 0);
        _queue.Enqueue(close with { Cut = true });
        Count(close.Frame.WebSocketFrame.Length);
        return true;
    }

    public void Abort()
    {
        lock (_gate)
        {
            _completed = true;
            _queue.Clear();
            Volatile.Write(ref _queuedBytes, 0);
            if (!_draining)
            {
                _drained.TrySetResult();
            }
        }

        context.Abort();
    }

    /// <summary>
    /// Writes what is queued, in order, on the calling thread while SignalR takes each frame at once; when a write has to
    /// wait, the rest continues in <see cref="DrainAfterAsync"/> once it completes. Only one drain runs at a time.
    /// </summary>
    private void Drain()
    {
        var aborted = context.ConnectionAborted;
        while (true)
        {
            Outbound next;
            lock (_gate)
            {
                if (_queue.TryDequeue(out next))
                {
                    Volatile.Write(ref _queuedBytes, _queuedBytes - next.Frame.WebSocketFrame.Length);
                }
                else
                {
                    _draining = false;
                    if (_completed)
                    {
                        _drained.TrySetResult();
                    }

                    return;
                }
            }

            ValueTask write;
            try
            {
                write = context.WriteAsync(next.Frame.Message, aborted);
            }
            catch (OperationCanceledException)
            {
                Finish();
                return;
            }

            if (next.Closes)
            {
                _ = CloseAfterAsync(write, next.Cut);
                return;
            }

            if (!write.IsCompletedSuccessfully)
            {
                Volatile.Write(ref _stalledSince, time.GetTimestamp());
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
            CancelPendingFlush();
        }

        try
        {
            await write.ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // Aborted while the close waited for SignalR's write lock: the connection is gone anyway.
        }

        context.Abort();
        Finish();
    }

    private void CancelPendingFlush() => context.Features.Get<IConnectionTransportFeature>()?.Transport.Output.CancelPendingFlush();

    private void Finish()
    {
        lock (_gate)
        {
            _completed = true;
            _queue.Clear();
            Volatile.Write(ref _queuedBytes, 0);
            _draining = false;
        }

        Volatile.Write(ref _stalledSince, 0);
        _drained.TrySetResult();
    }

    /// <summary>Under <see cref="_gate"/>.</summary>
    private void Count(int length)
    {
        var queued = _queuedBytes + length;
        Volatile.Write(ref _queuedBytes, queued);
        if (queued > _peakQueuedBytes)
        {
            Volatile.Write(ref _peakQueuedBytes, queued);
        }
    }

    /// <summary>A frame waiting for the transport; <c>Closes</c> marks the close message, <c>Cut</c> a slow consumer's.</summary>
    private readonly record struct Outbound(OutboundFrame Frame, bool Closes, bool Cut);
}
