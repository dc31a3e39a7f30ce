using System.Buffers;
using Microsoft.AspNetCore.SignalR;
using SignalStream.Hub.Transport;

namespace SignalStream.Hub.FanOut.Internal;

/// <summary>
/// A WebSocket client whose socket the node writes itself (<see cref="SocketFrameOutput"/>): a delivery is one
/// non-blocking send of the shared, already framed message on the fan-out thread.
/// </summary>
/// <remarks>
/// Everything the socket has not taken counts against <c>Hub:OutboundQueueBytes</c>, SignalR's own replies included
/// (they are written through the same <see cref="SocketFrameOutput"/>); when one of those takes it past the bound,
/// <c>onOverflow</c> cuts the connection off.
/// Closing offers the close message behind what waits and aborts the SignalR connection at once: the request then
/// ends, and <see cref="DirectSocketSends"/> holds it open until the socket has taken what waits (bounded), so the close
/// message still reaches a client that reads.
/// </remarks>
internal sealed class SocketClientOutput : IClientOutput
{
    private readonly TaskCompletionSource _drained = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly SocketFrameOutput _socket;
    private readonly HubConnectionContext _context;
    private readonly int _limit;
    private int _ended;

    public SocketClientOutput(SocketFrameOutput socket, HubConnectionContext context, int limit, Action onOverflow)
    {
        _socket = socket;
        _context = context;
        _limit = limit;
        socket.Overflowed = onOverflow;
    }

    public long StalledSince => _socket.StalledSince;

    public long QueuedBytes => _socket.QueuedBytes;

    public long PeakQueuedBytes => _socket.PeakQueuedBytes;

    public Task Drained => _drained.Task;

    public bool HasEnded => Volatile.Read(ref _ended) != 0;

    public bool TryOffer(OutboundFrame frame)
    {
        if (HasEnded)
        {
            return false;
        }

        switch (_socket.Offer(frame.WebSocketFrame, _limit))
        {
            case FrameOffer.Sent or FrameOffer.Queued:
                return true;
            case FrameOffer.Closed:
                Abort(); // the socket failed or the WebSocket closed: the connection is over, not slow
                return false;
            default:
                return false;
        }
    }

    public int TryOfferRun(IReadOnlyList<OutboundMessage> messages, WireProtocol protocol)
    {
        if (HasEnded)
        {
            return 0;
        }

        var frames = ArrayPool<ReadOnlyMemory<byte>>.Shared.Rent(messages.Count);
        try
        {
            for (var i = 0; i < messages.Count; i++)
            {
                frames[i] = messages[i].FrameFor(protocol).WebSocketFrame;
            }

            var taken = _socket.OfferRun(frames.AsSpan(0, messages.Count), _limit, out var refused);
            if (refused == FrameOffer.Closed)
            {
                Abort(); // the socket failed or the WebSocket closed: the connection is over, not slow
            }

            return taken;
        }
        finally
        {
            Array.Clear(frames, 0, messages.Count); // the pool must not keep the frames alive
            ArrayPool<ReadOnlyMemory<byte>>.Shared.Return(frames);
        }
    }

    public bool Close(OutboundFrame close)
    {
        if (!End())
        {
            return false;
        }

        _socket.OfferLast(close.WebSocketFrame);
        Ended();
        return true;
    }

    public bool CutOff(OutboundFrame close)
    {
        if (!End())
        {
            return false;
        }

        _socket.DropWaitingFrames();
        _socket.OfferLast(close.WebSocketFrame);
        Ended();
        return true;
    }

    public void Abort()
    {
        if (End())
        {
            Ended();
        }
    }

    private bool End() => Interlocked.Exchange(ref _ended, 1) == 0;

    /// <summary>After the last offer: SignalR lets go of the connection, and <see cref="Drained"/> follows the socket.</summary>
    private void Ended()
    {
        _context.Abort();
        _socket.WhenIdleAsync().ContinueWith(static (_, drained) => ((TaskCompletionSource)drained!).TrySetResult(), _drained, TaskScheduler.Default);
    }
}
