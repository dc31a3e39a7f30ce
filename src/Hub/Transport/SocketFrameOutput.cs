using System.Net.Sockets;
using SignalStream.Hub.Transport.Internal;

namespace SignalStream.Hub.Transport;

/// <summary>What became of a frame offered to a <see cref="SocketFrameOutput"/>.</summary>
internal enum FrameOffer
{
    /// <summary>The kernel took all of it.</summary>
    Sent,

    /// <summary>It waits, in order, behind bytes the socket has not taken yet.</summary>
    Queued,

    /// <summary>Refused: as many offered frames as the limit allows already wait (the client is not keeping up).</summary>
    Full,

    /// <summary>Refused: the connection has sent its close frame or its socket failed.</summary>
    Closed,
}

/// <summary>
/// The write side of one WebSocket connection on a plain TCP socket, owned by the node from the handshake on: fan-out
/// frames and the WebSocket's own writes reach the socket in order, whole frames at a time, sent on the offering thread
/// while the kernel takes them.
/// </summary>
/// <remarks>
/// <para>
/// Why: written through SignalR, a frame crosses SignalR's pipe, its transport's send loop, the WebSocket, Kestrel's
/// output pipe and Kestrel's socket loop, two thread-pool hops per message and connection. A fan-out frame is the same
/// bytes for every subscriber, framed once, so here a delivery is one non-blocking <c>send()</c>: at 100k deliveries/s
/// the node's CPU per delivery fell from 13.7 to 10.3 µs, most of what is left being the kernel's own TCP work
/// (BENCHMARKS.md, "Fan-out", session 3).
/// </para>
/// <para>
/// Only when the kernel's send buffer is full (a client that reads slowly, or not at all) do bytes wait, in a queue, for
/// an asynchronous send that resumes when the socket is writable; <see cref="StalledSince"/> says since when nothing has
/// moved. Frames never cut into a message: the WebSocket's writes are followed by a <see cref="WebSocketFrameScanner"/>,
/// and while one of its messages is half written, offered frames are held until it ends. After its close frame nothing
/// more is sent.
/// </para>
/// </remarks>
internal sealed class SocketFrameOutput
{
    private readonly Socket _socket;
    private readonly TimeProvider _time;
    private readonly Lock _gate = new();
    private readonly WebSocketFrameScanner _scanner = new();

    // Guarded by _gate. The head of _queue is what the socket is taking now; _headSent bytes of it already went out.
    private readonly Queue<Chunk> _queue = new();
    private readonly Queue<ReadOnlyMemory<byte>> _held = new();
    private int _headSent;
    private int _offeredWaiting;
    private bool _draining;
    private bool _failed;
    private TaskCompletionSource? _idle;
    private long _stalledSince;

    public SocketFrameOutput(Socket socket, TimeProvider time)
    {
        _socket = socket;
        _time = time;
    }

    /// <summary>
    /// Since when (a <see cref="TimeProvider.GetTimestamp"/> value) the socket has taken nothing of what waits for it, or
    /// 0 when nothing waits.
    /// </summary>
    public long StalledSince => Volatile.Read(ref _stalledSince);

    /// <summary>
    /// Sends a whole frame now, or queues it behind what the socket has not taken yet, without waiting either way.
    /// <paramref name="limit"/> bounds the offered frames that may wait.
    /// </summary>
    public FrameOffer Offer(ReadOnlyMemory<byte> frame, int limit)
    {
        FrameOffer result;
        bool startDrain;
        lock (_gate)
        {
            if (_failed || _scanner.SawClose)
            {
                return FrameOffer.Closed;
            }

            if (_offeredWaiting >= limit)
            {
                return FrameOffer.Full;
            }

            if (_scanner.InsideMessage)
            {
                _held.Enqueue(frame);
                _offeredWaiting++;
                return FrameOffer.Queued;
            }

            result = SendOrQueue(frame, out startDrain);
        }

        if (startDrain)
        {
            _ = DrainAsync();
        }

        return result;
    }

    /// <summary>
    /// The WebSocket's own writes (SignalR's handshake reply, completions, pings, close), in order with the offered
    /// frames. They never wait: what the socket does not take at once is copied and queued, so SignalR's transport can
    /// always finish, even on a client that does not read (which the stall sweep then cuts off). They are few and small.
    /// </summary>
    public void Write(ReadOnlySpan<byte> bytes)
    {
        var startDrain = false;
        lock (_gate)
        {
            if (_failed || bytes.IsEmpty)
            {
                return; // the connection is gone; its receive side ends the WebSocket
            }

            _scanner.Scan(bytes);
            if (_draining)
            {
                _queue.Enqueue(new Chunk(bytes.ToArray(), Offered: false));
            }
            else
            {
                var sent = TrySend(bytes);
                if (sent < 0)
                {
                    Fail();
                    return;
                }

                if (sent < bytes.Length)
                {
                    _queue.Enqueue(new Chunk(bytes[sent..].ToArray(), Offered: false));
                    BeginDrain();
                    startDrain = true;
                }
            }

            // The WebSocket's message ended: what was offered meanwhile follows it.
            while (!_scanner.InsideMessage && _held.TryDequeue(out var held))
            {
                _offeredWaiting--;
                SendOrQueue(held, out var drain);
                startDrain |= drain;
            }

            SignalIfIdle();
        }

        if (startDrain)
        {
            _ = DrainAsync();
        }
    }

    /// <summary>
    /// Drops the offered frames that wait (a cut-off client will not read them in time), keeping the one the socket has
    /// started to take, since a frame cut short would corrupt everything after it, and the WebSocket's own writes.
    /// </summary>
    public void DropWaitingFrames()
    {
        lock (_gate)
        {
            _held.Clear();
            var count = _queue.Count;
            for (var i = 0; i < count; i++)
            {
                var chunk = _queue.Dequeue();
                if ((i == 0 && _draining) || !chunk.Offered)
                {
                    _queue.Enqueue(chunk);
                }
            }

            _offeredWaiting = 0;
            foreach (var chunk in _queue)
            {
                _offeredWaiting += chunk.Offered ? 1 : 0;
            }
        }
    }

    /// <summary>Completes once nothing waits for the socket (all sent, or dropped because the socket failed).</summary>
    public Task WhenIdleAsync()
    {
        lock (_gate)
        {
            if (!_draining && _queue.Count == 0 && _held.Count == 0)
            {
                return Task.CompletedTask;
            }

            _idle ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            return _idle.Task;
        }
    }

    /// <summary>Under <see cref="_gate"/>: sends an offered frame at once when nothing waits ahead, else queues it; true
    /// in <paramref name="startDrain"/> when it is now the head of a queue nobody drains yet.</summary>
    private FrameOffer SendOrQueue(ReadOnlyMemory<byte> frame, out bool startDrain)
    {
        startDrain = false;
        if (!_draining)
        {
            var sent = TrySend(frame.Span);
            if (sent < 0)
            {
                Fail();
                return FrameOffer.Closed;
            }

            if (sent == frame.Length)
            {
                return FrameOffer.Sent;
            }

            _headSent = sent;
            BeginDrain();
            startDrain = true;
        }

        _queue.Enqueue(new Chunk(frame, Offered: true));
        _offeredWaiting++;
        return FrameOffer.Queued;
    }

    private void BeginDrain()
    {
        _draining = true;
        Volatile.Write(ref _stalledSince, _time.GetTimestamp());
    }

    /// <summary>One non-blocking send: bytes taken (0 when the kernel's buffer is full), or -1 when the socket is gone.</summary>
    private int TrySend(ReadOnlySpan<byte> bytes)
    {
        try
        {
            return NonBlockingSend.Send(_socket.SafeHandle, bytes);
        }
        catch (ObjectDisposedException)
        {
            return -1; // the server closed the connection under us
        }
    }

    /// <summary>
    /// Sends what waits, in order: the head asynchronously (the socket takes it when the client reads), then as much as
    /// the kernel takes at once; ends when nothing waits. Only one runs at a time (<see cref="_draining"/>).
    /// </summary>
    private async Task DrainAsync()
    {
        while (true)
        {
            ReadOnlyMemory<byte> rest;
            lock (_gate)
            {
                if (_failed || !_queue.TryPeek(out var head))
                {
                    EndDrain();
                    return;
                }

                rest = head.Bytes[_headSent..];
            }

            try
            {
                while (!rest.IsEmpty)
                {
                    var sent = await _socket.SendAsync(rest, SocketFlags.None).ConfigureAwait(false);
                    rest = rest[sent..];
                }
            }
            catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
            {
                lock (_gate)
                {
                    Fail();
                    EndDrain();
                }

                return;
            }

            lock (_gate)
            {
                Volatile.Write(ref _stalledSince, 0);
                Dequeue();
                if (!SendWhatTheKernelTakes())
                {
                    Volatile.Write(ref _stalledSince, _time.GetTimestamp());
                }
            }
        }
    }

    /// <summary>Under <see cref="_gate"/>, in the drain: sends waiting chunks until one does not go whole (it stays the
    /// head, with <see cref="_headSent"/> set). False when something still waits.</summary>
    private bool SendWhatTheKernelTakes()
    {
        while (_queue.TryPeek(out var head))
        {
            var sent = TrySend(head.Bytes.Span);
            if (sent < 0)
            {
                Fail();
                return true;
            }

            if (sent < head.Bytes.Length)
            {
                _headSent = sent;
                return false;
            }

            Dequeue();
        }

        return true;
    }

    private void Dequeue()
    {
        if (_queue.Dequeue().Offered)
        {
            _offeredWaiting--;
        }

        _headSent = 0;
    }

    /// <summary>Under <see cref="_gate"/>: the socket is gone; nothing more is sent and what waits is dropped.</summary>
    private void Fail()
    {
        _failed = true;
        _queue.Clear();
        _held.Clear();
        _offeredWaiting = 0;
        _headSent = 0;
    }

    /// <summary>Under <see cref="_gate"/>: the drain stops; whoever waits for the output to be idle may go on.</summary>
    private void EndDrain()
    {
        _draining = false;
        _headSent = 0;
        Volatile.Write(ref _stalledSince, 0);
        SignalIfIdle();
    }

    private void SignalIfIdle()
    {
        if (!_draining && _queue.Count == 0 && _held.Count == 0 && _idle is { } idle)
        {
            _idle = null;
            idle.TrySetResult();
        }
    }

    /// <summary>Bytes waiting for the socket: an offered frame (shared, counted against the limit) or a copy of a
    /// WebSocket write.</summary>
    private readonly record struct Chunk(ReadOnlyMemory<byte> Bytes, bool Offered);
}
