using System.Net.Sockets;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using SignalStream.Hub.Transport.Internal;

namespace SignalStream.Hub.Transport;

/// <summary>What became of a frame offered to a <see cref="SocketFrameOutput"/>.</summary>
internal enum FrameOffer
{
    /// <summary>The kernel took all of it.</summary>
    Sent,

    /// <summary>It waits, in order, behind bytes the socket has not taken yet.</summary>
    Queued,

    /// <summary>Refused: as many offered frames, or bytes, as the limits allow already wait (the client is not keeping up).</summary>
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
/// moved. Then everything else that waits goes in one gathered <c>sendmsg()</c> (up to
/// <see cref="DefaultMaxGathered"/> frames), not a <c>send()</c> each: a client that reads slowly is written to in
/// batches of what piled up while it did not read. Nothing waits to be gathered: a frame offered while nothing waits is
/// sent alone, at once.
/// </para>
/// <para>
/// Frames never cut into a message: the WebSocket's writes are followed by a <see cref="WebSocketFrameScanner"/>, and
/// while one of its messages is half written, offered frames are held until it ends. After its close frame nothing more
/// is sent.
/// </para>
/// <para>
/// Every byte that waits counts against one bound (<c>Hub:OutboundQueueBytes</c>), offered frames and the WebSocket's
/// own writes alike. An offer past it is refused (<see cref="FrameOffer.Full"/>); a WebSocket write past it raises
/// <see cref="Overflowed"/> once, and is dropped when it holds whole messages only (the connection is being cut, and
/// what a client that does not read would never see costs nothing). Only the rest of a message the WebSocket has begun
/// is kept past the bound, since a message cut short would corrupt everything after it.
/// </para>
/// </remarks>
internal sealed class SocketFrameOutput
{
    /// <summary>
    /// The most waiting chunks one <c>sendmsg()</c> carries: each is pinned for the call whether the kernel takes it or
    /// not, and more than 256 gained nothing measurable (BENCHMARKS.md, "Vectored send").
    /// </summary>
    public const int DefaultMaxGathered = 256;

    private static readonly TimeSpan DeliveryPoll = TimeSpan.FromMilliseconds(10);

    private readonly Socket _socket;
    private readonly TimeProvider _time;
    private readonly long _byteLimit;
    private readonly int _maxGathered;
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
    private long _queuedBytes;
    private long _peakQueuedBytes;
    private bool _overflowed;
    private long _sendCalls;

    /// <param name="socket">The connection's socket.</param>
    /// <param name="time">The clock of <see cref="StalledSince"/>.</param>
    /// <param name="byteLimit">Bytes that may wait for the socket (<c>Hub:OutboundQueueBytes</c>).</param>
    /// <param name="maxGathered">The most waiting chunks one send carries (1: a send each, as before vectored sends;
    /// the benchmarks compare the two).</param>
    public SocketFrameOutput(Socket socket, TimeProvider time, long byteLimit = long.MaxValue, int maxGathered = DefaultMaxGathered)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxGathered, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(maxGathered, NonBlockingSend.MaxVectors);
        _socket = socket;
        _time = time;
        _byteLimit = byteLimit;
        _maxGathered = maxGathered;
    }

    /// <summary>
    /// Raised once, outside the output's lock, when a write of the WebSocket's own would take the bytes that wait past
    /// the bound: the connection sends faster than its client reads (a flood of invocations it does not read the
    /// replies of). Whoever owns the connection cuts it off.
    /// </summary>
    public Action? Overflowed { get; set; }

    /// <summary>Bytes waiting for the socket now: offered frames and copies of the WebSocket's own writes.</summary>
    public long QueuedBytes => Volatile.Read(ref _queuedBytes);

    /// <summary>The most bytes that ever waited for this socket at once.</summary>
    public long PeakQueuedBytes => Volatile.Read(ref _peakQueuedBytes);

    /// <summary>
    /// Since when (a <see cref="TimeProvider.GetTimestamp"/> value) the socket has taken nothing of what waits for it, or
    /// 0 when nothing waits.
    /// </summary>
    public long StalledSince => Volatile.Read(ref _stalledSince);

    /// <summary>The sends made so far, gathered or single, the asynchronous one of the drain included: what the
    /// vectored send saves shows here.</summary>
    public long SendCalls => Volatile.Read(ref _sendCalls);

    /// <summary>
    /// Sends a whole frame now, or queues it behind what the socket has not taken yet, without waiting either way.
    /// <paramref name="limit"/> bounds the offered frames that may wait, the output's byte limit the bytes.
    /// </summary>
    public FrameOffer Offer(ReadOnlyMemory<byte> frame, int limit) => Offer(frame, limit, bounded: true);

    /// <summary>Offers the last frame the connection gets (a close message), whatever waits: it is small, and the
    /// connection ends behind it.</summary>
    public FrameOffer OfferLast(ReadOnlyMemory<byte> frame) => Offer(frame, int.MaxValue, bounded: false);

    private FrameOffer Offer(ReadOnlyMemory<byte> frame, int limit, bool bounded)
    {
        FrameOffer result;
        var startDrain = false;
        lock (_gate)
        {
            result = OfferLocked(frame, limit, bounded, ref startDrain);
        }

        if (startDrain)
        {
            _ = DrainAsync();
        }

        return result;
    }

    /// <summary>
    /// Offers frames that are ready together (a run a fan-out loop found queued at once), in order. When nothing waits,
    /// they go in one gathered <c>sendmsg()</c> instead of a <c>send()</c> each, and what the kernel does not take waits
    /// as usual; otherwise each is offered as by <see cref="Offer(ReadOnlyMemory{byte}, int)"/>. Nothing waits to be
    /// gathered: the run is what was already there.
    /// </summary>
    /// <returns>How many of the first frames were taken (sent or queued); the rest were refused, as the first of them
    /// says in <paramref name="refused"/>.</returns>
    public int OfferRun(ReadOnlySpan<ReadOnlyMemory<byte>> frames, int limit, out FrameOffer refused)
    {
        refused = FrameOffer.Sent;
        var taken = 0;
        var startDrain = false;
        lock (_gate)
        {
            if (frames.Length > 1 && frames.Length <= limit && !_failed && !_scanner.SawClose && !_scanner.InsideMessage && !_draining && _queue.Count == 0)
            {
                // Nothing waits, so each frame alone would be sent at once: as one call, they are.
                foreach (var frame in frames)
                {
                    Enqueue(new Chunk(frame, Offered: true));
                    _offeredWaiting++;
                }

                if (!SendWhatTheKernelTakes())
                {
                    BeginDrain();
                    startDrain = true;
                }

                taken = _failed ? 0 : frames.Length;
                refused = _failed ? FrameOffer.Closed : refused;
            }
            else
            {
                for (; taken < frames.Length; taken++)
                {
                    var result = OfferLocked(frames[taken], limit, bounded: true, ref startDrain);
                    if (result is not (FrameOffer.Sent or FrameOffer.Queued))
                    {
                        refused = result;
                        break;
                    }
                }
            }
        }

        if (startDrain)
        {
            _ = DrainAsync();
        }

        return taken;
    }

    /// <summary>Under <see cref="_gate"/>: one frame offered; true in <paramref name="startDrain"/> when a drain must start.</summary>
    private FrameOffer OfferLocked(ReadOnlyMemory<byte> frame, int limit, bool bounded, ref bool startDrain)
    {
        if (_failed || _scanner.SawClose)
        {
            return FrameOffer.Closed;
        }

        if (_offeredWaiting >= limit || (bounded && WouldPassBound(frame.Length)))
        {
            return FrameOffer.Full;
        }

        if (_scanner.InsideMessage)
        {
            _held.Enqueue(frame);
            _offeredWaiting++;
            Count(frame.Length);
            return FrameOffer.Queued;
        }

        var result = SendOrQueue(frame, out var drain);
        startDrain |= drain;
        return result;
    }

    /// <summary>
    /// The WebSocket's own writes (SignalR's handshake reply, completions, pings, close), in order with the offered
    /// frames. They never wait: what the socket does not take at once is copied and queued, so SignalR's transport can
    /// always finish, even on a client that does not read (which the stall sweep then cuts off). They count against the
    /// byte bound like offered frames: a client that sends requests faster than it reads the replies is cut off
    /// (<see cref="Overflowed"/>).
    /// </summary>
    public void Write(ReadOnlySpan<byte> bytes)
    {
        var startDrain = false;
        var overflowed = false;
        lock (_gate)
        {
            if (_failed || bytes.IsEmpty)
            {
                return; // the connection is gone; its receive side ends the WebSocket
            }

            var atBoundary = !_scanner.InsideMessage;
            var closedBefore = _scanner.SawClose;
            _scanner.Scan(bytes);
            var passesBound = WouldPassBound(bytes.Length);
            if (passesBound && !_overflowed)
            {
                _overflowed = overflowed = true;
            }

            // Whole messages past the bound are dropped: the connection is being cut off. The rest of a message already
            // begun, and the WebSocket's close frame, still go, or the stream would be corrupt.
            var drop = passesBound && atBoundary && !_scanner.InsideMessage && _scanner.SawClose == closedBefore;
            if (!drop && _draining)
            {
                Enqueue(new Chunk(bytes.ToArray(), Offered: false));
            }
            else if (!drop)
            {
                var sent = TrySend(bytes);
                if (sent < 0)
                {
                    Fail();
                    return;
                }

                if (sent < bytes.Length)
                {
                    Enqueue(new Chunk(bytes[sent..].ToArray(), Offered: false));
                    BeginDrain();
                    startDrain = true;
                }
            }

            FlushHeld(ref startDrain);
            SignalIfIdle();
        }

        if (startDrain)
        {
            _ = DrainAsync();
        }

        if (overflowed)
        {
            Overflowed?.Invoke();
        }
    }

    /// <summary>Under <see cref="_gate"/>: once the WebSocket's message has ended, what was offered meanwhile follows it,
    /// all of it in one gathered send when nothing else waits.</summary>
    private void FlushHeld(ref bool startDrain)
    {
        if (_scanner.InsideMessage || _held.Count == 0)
        {
            return;
        }

        // Still counted as waiting (offered, bytes) while they move from one queue to the other.
        while (_held.TryDequeue(out var held))
        {
            _queue.Enqueue(new Chunk(held, Offered: true));
        }

        if (!_draining && !SendWhatTheKernelTakes())
        {
            BeginDrain();
            startDrain = true;
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
            Volatile.Write(ref _queuedBytes, 0);
            foreach (var chunk in _queue)
            {
                _offeredWaiting += chunk.Offered ? 1 : 0;
                _queuedBytes += chunk.Bytes.Length;
            }
        }
    }

    /// <summary>
    /// Completes once the client's TCP stack has acknowledged every byte written, its close message among them (read or
    /// not, they are then the client's), or after <paramref name="timeout"/>. The connection may be closed only then: the client's pings keep arriving after the
    /// node stops reading, and a socket closed with unread input is reset, which throws away whatever the kernel still
    /// held for the client (a cut-off slow consumer's backlog and the close that says why).
    /// </summary>
    public async Task WhenDeliveredAsync(TimeSpan timeout)
    {
        var start = _time.GetTimestamp();
        var idle = WhenIdleAsync();
        if (!idle.IsCompleted)
        {
            await Task.WhenAny(idle, Task.Delay(timeout, _time)).ConfigureAwait(false);
        }

        while (!_failed && NonBlockingSend.UnacknowledgedBytes(_socket.SafeHandle) > 0 && _time.GetElapsedTime(start) < timeout)
        {
            await Task.Delay(DeliveryPoll, _time).ConfigureAwait(false);
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

        Enqueue(new Chunk(frame, Offered: true));
        _offeredWaiting++;
        return FrameOffer.Queued;
    }

    /// <summary>Under <see cref="_gate"/>: true when <paramref name="length"/> more bytes would take what waits past the
    /// bound. An output with nothing waiting takes anything: a bound smaller than one message would cut every client.</summary>
    private bool WouldPassBound(int length) => _queuedBytes > 0 && _queuedBytes + length > _byteLimit;

    private void Enqueue(Chunk chunk)
    {
        _queue.Enqueue(chunk);
        Count(chunk.Bytes.Length);
    }

    private void Count(int length)
    {
        var queued = _queuedBytes + length;
        Volatile.Write(ref _queuedBytes, queued);
        if (queued > _peakQueuedBytes)
        {
            Volatile.Write(ref _peakQueuedBytes, queued);
        }
    }

    private void BeginDrain()
    {
        _draining = true;
        Volatile.Write(ref _stalledSince, _time.GetTimestamp());
    }

    /// <summary>One non-blocking send: bytes taken (0 when the kernel's buffer is full), or -1 when the socket is gone.</summary>
    private int TrySend(ReadOnlySpan<byte> bytes)
    {
        _sendCalls++;
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
                    Interlocked.Increment(ref _sendCalls);
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

    /// <summary>Under <see cref="_gate"/>, with the socket not busy with an asynchronous send: sends what waits, as many
    /// chunks a call as <see cref="_maxGathered"/> allows, until the kernel does not take all of a call (what is left of
    /// the chunk it stopped in stays the head, with <see cref="_headSent"/> set). False when something still waits.</summary>
    private bool SendWhatTheKernelTakes()
    {
        while (_queue.Count > 0)
        {
            var sent = TrySendWaiting(out var gathered);
            if (sent < 0)
            {
                Fail();
                return true;
            }

            Consume(sent);
            if (sent < gathered)
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>
    /// Under <see cref="_gate"/>: one non-blocking send of the head's rest and the chunks behind it, up to
    /// <see cref="_maxGathered"/>: bytes taken, or -1 when the socket is gone; <paramref name="gathered"/> the bytes
    /// offered to the kernel.
    /// </summary>
    /// <remarks>
    /// The chunks are managed arrays the GC may move, so each is pinned (a GC handle, no allocation) for the call only;
    /// their addresses and pins live on the stack, none per connection. A chunk that is not an array (never, today: frames
    /// and copies are arrays) ends the gathering and goes alone when it is the head.
    /// </remarks>
    [SkipLocalsInit]
    private long TrySendWaiting(out long gathered)
    {
        var head = _queue.Peek().Bytes[_headSent..];
        if (_queue.Count == 1 || _maxGathered == 1 || !MemoryMarshal.TryGetArray(head, out var first))
        {
            gathered = head.Length;
            return TrySend(head.Span);
        }

        // 24 KB of stack at most (not cleared: SkipLocalsInit), only on the way from a backlog.
        Span<NonBlockingSend.IoVector> vectors = stackalloc NonBlockingSend.IoVector[NonBlockingSend.MaxVectors];
        Span<GCHandle> pins = stackalloc GCHandle[NonBlockingSend.MaxVectors];
        vectors = vectors[.._maxGathered];
        var count = 0;
        gathered = 0;
        try
        {
            foreach (var chunk in _queue)
            {
                var segment = first;
                if (count > 0 && (count == vectors.Length || !MemoryMarshal.TryGetArray(chunk.Bytes, out segment)))
                {
                    break;
                }

                pins[count] = GCHandle.Alloc(segment.Array, GCHandleType.Pinned);
                vectors[count] = new NonBlockingSend.IoVector
                {
                    Base = pins[count].AddrOfPinnedObject() + segment.Offset,
                    Length = (nuint)segment.Count,
                };
                gathered += segment.Count;
                count++;
            }

            _sendCalls++;
            return NonBlockingSend.SendGathered(_socket.SafeHandle, vectors[..count]);
        }
        catch (ObjectDisposedException)
        {
            return -1; // the server closed the connection under us
        }
        finally
        {
            for (var i = 0; i < count; i++)
            {
                pins[i].Free();
            }
        }
    }

    /// <summary>Under <see cref="_gate"/>: <paramref name="sent"/> bytes of the waiting chunks went out, in order from
    /// the head's rest on.</summary>
    private void Consume(long sent)
    {
        while (sent > 0)
        {
            var rest = _queue.Peek().Bytes.Length - _headSent;
            if (sent < rest)
            {
                _headSent += (int)sent;
                return;
            }

            sent -= rest;
            Dequeue();
        }
    }

    private void Dequeue()
    {
        var chunk = _queue.Dequeue();
        if (chunk.Offered)
        {
            _offeredWaiting--;
        }

        Volatile.Write(ref _queuedBytes, _queuedBytes - chunk.Bytes.Length);
        _headSent = 0;
    }

    /// <summary>Under <see cref="_gate"/>: the socket is gone; nothing more is sent and what waits is dropped.</summary>
    private void Fail()
    {
        _failed = true;
        _queue.Clear();
        _held.Clear();
        _offeredWaiting = 0;
        Volatile.Write(ref _queuedBytes, 0);
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
