using Microsoft.AspNetCore.SignalR;
using SignalStream.Hub.FanOut.Internal;
using SignalStream.Hub.Transport;

namespace SignalStream.Hub.Hubs.Internal;

/// <summary>
/// A WebSocket client whose socket the node writes itself (<see cref="SocketFrameOutput"/>): a delivery is one
/// non-blocking send of the shared, already framed message on the fan-out thread.
/// </summary>
/// <remarks>
/// Closing offers the close message behind what waits and aborts the SignalR connection at once: the request then
/// ends, and <see cref="DirectSocketSends"/> holds it open until the socket has taken what waits (bounded), so the close
/// message still reaches a client that reads.
/// </remarks>
internal sealed class SocketClientOutput(SocketFrameOutput socket, HubConnectionContext context, int limit) : IClientOutput
{
    private readonly TaskCompletionSource _drained = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _ended;

    public long StalledSince => socket.StalledSince;

    public Task Drained => _drained.Task;

    public bool HasEnded => Volatile.Read(ref _ended) != 0;

    public bool TryOffer(OutboundFrame frame)
    {
        if (HasEnded)
        {
            return false;
        }

        switch (socket.Offer(frame.WebSocketFrame, limit))
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

    public bool Close(OutboundFrame close)
    {
        if (!End())
        {
            return false;
        }

        socket.Offer(close.WebSocketFrame, int.MaxValue);
        Ended();
        return true;
    }

    public bool CutOff(OutboundFrame close)
    {
        if (!End())
        {
            return false;
        }

        socket.DropWaitingFrames();
        socket.Offer(close.WebSocketFrame, int.MaxValue);
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
        context.Abort();
        socket.WhenIdleAsync().ContinueWith(static (_, drained) => ((TaskCompletionSource)drained!).TrySetResult(), _drained, TaskScheduler.Default);
    }
}
