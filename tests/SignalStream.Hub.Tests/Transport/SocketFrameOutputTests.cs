using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Text;
using SignalStream.Hub.Transport;
using SignalStream.Hub.Transport.Internal;

namespace SignalStream.Hub.Tests.Transport;

/// <summary>
/// The node's own writer of a client's socket, on a real loopback TCP connection: frames arrive whole and in order
/// whether the kernel takes them at once or they wait for a client that reads late, a frame on the wire is never cut,
/// and nothing comes inside one of the WebSocket's own messages or after its close.
/// </summary>
public sealed class SocketFrameOutputTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task FramesOfferedToAReadingClientArriveWholeAndInOrder()
    {
        using var pair = await SocketPair.ConnectAsync();
        var output = new SocketFrameOutput(pair.Server, TimeProvider.System);
        var reading = pair.ReadFramesAsync(count: 2_000);

        for (var i = 0; i < 2_000; i++)
        {
            Assert.NotEqual(FrameOffer.Full, output.Offer(Numbered(i, size: i % 3 == 0 ? 200 : 20), int.MaxValue));
        }

        await output.WhenIdleAsync().WaitAsync(Wait);
        var frames = await reading.WaitAsync(Wait);
        Assert.Equal(Enumerable.Range(0, 2_000), frames.Select(NumberOf));
    }

    [Fact]
    public async Task AClientThatDoesNotReadQueuesFramesUpToTheLimitAndGetsThemAllInOrderWhenItReads()
    {
        using var pair = await SocketPair.ConnectAsync();
        var output = new SocketFrameOutput(pair.Server, TimeProvider.System);
        const int limit = 16;
        var accepted = 0;
        var queued = 0;
        while (true)
        {
            var offer = output.Offer(Numbered(accepted, size: 1_000), limit);
            if (offer == FrameOffer.Full)
            {
                break;
            }

            Assert.NotEqual(FrameOffer.Closed, offer);
            queued += offer == FrameOffer.Queued ? 1 : 0;
            accepted++;
        }

        Assert.Equal(limit, queued);
        Assert.NotEqual(0, output.StalledSince);

        var frames = await pair.ReadFramesAsync(accepted).WaitAsync(Wait);
        await output.WhenIdleAsync().WaitAsync(Wait);
        Assert.Equal(Enumerable.Range(0, accepted), frames.Select(NumberOf));
        Assert.Equal(0, output.StalledSince);
    }

    [Fact]
    public async Task DroppingWhatWaitsKeepsTheFrameOnTheWireWholeAndTheCloseGoesBehindIt()
    {
        using var pair = await SocketPair.ConnectAsync();
        var output = new SocketFrameOutput(pair.Server, TimeProvider.System);
        var offered = 0;
        while (output.Offer(Numbered(offered, size: 3_000), limit: 8) != FrameOffer.Full)
        {
            offered++;
        }

        output.DropWaitingFrames();
        Assert.Equal(FrameOffer.Queued, output.Offer(Encoding.UTF8.GetBytes("close").AsMemory().Framed(), int.MaxValue));

        // Every frame parses (none was cut), the numbered ones are a gap-free prefix of what was offered, and the close
        // comes right after them.
        var frames = await pair.ReadFramesUntilAsync(f => Encoding.UTF8.GetString(f) == "close").WaitAsync(Wait);
        var numbers = frames.SkipLast(1).Select(NumberOf).ToList();
        Assert.Equal(Enumerable.Range(0, numbers.Count), numbers);
        Assert.InRange(numbers.Count, 1, offered - 1);
        await output.WhenIdleAsync().WaitAsync(Wait);
    }

    [Fact]
    public async Task OfferedFramesWaitUntilTheWebSocketsFragmentedMessageHasEnded()
    {
        using var pair = await SocketPair.ConnectAsync();
        var output = new SocketFrameOutput(pair.Server, TimeProvider.System);

        output.Write(WebSocketFrameScannerTests.Frame(0x01, fin: false, "he"u8.ToArray()));
        Assert.Equal(FrameOffer.Queued, output.Offer(Numbered(7, size: 10), int.MaxValue));
        output.Write(WebSocketFrameScannerTests.Frame(0x00, fin: true, "llo"u8.ToArray()));
        await output.WhenIdleAsync().WaitAsync(Wait);

        var frames = await pair.ReadFramesAsync(3).WaitAsync(Wait);
        Assert.Equal("he", Encoding.UTF8.GetString(frames[0]));
        Assert.Equal("llo", Encoding.UTF8.GetString(frames[1]));
        Assert.Equal(7, NumberOf(frames[2]));
    }

    [Fact]
    public async Task NothingIsOfferedAfterTheWebSocketsCloseFrame()
    {
        using var pair = await SocketPair.ConnectAsync();
        var output = new SocketFrameOutput(pair.Server, TimeProvider.System);

        output.Write(WebSocketFrameScannerTests.Frame(0x08, fin: true, [0x03, 0xe8]));

        Assert.Equal(FrameOffer.Closed, output.Offer(Numbered(1, size: 10), int.MaxValue));
    }

    [Fact]
    public async Task AClientThatResetsTheConnectionEndsTheOutput()
    {
        using var pair = await SocketPair.ConnectAsync();
        var output = new SocketFrameOutput(pair.Server, TimeProvider.System);
        pair.Client.LingerState = new LingerOption(true, 0);
        pair.Client.Close(); // a reset, as a crashed client's kernel sends

        var deadline = DateTime.UtcNow + Wait;
        var offer = FrameOffer.Sent;
        while (offer != FrameOffer.Closed && DateTime.UtcNow < deadline)
        {
            offer = output.Offer(Numbered(1, size: 10), int.MaxValue);
            await Task.Delay(10);
        }

        Assert.Equal(FrameOffer.Closed, offer);
        await output.WhenIdleAsync().WaitAsync(Wait);
    }

    [Fact]
    public async Task DeliveredWaitsUntilTheClientHasTakenWhatTheKernelStillHeld()
    {
        // Idle only means the kernel took everything; closing then, while the client's own writes sit unread, resets the
        // connection and throws away what the kernel still held for the client.
        using var pair = await SocketPair.ConnectAsync();
        var output = new SocketFrameOutput(pair.Server, TimeProvider.System);
        var offered = 0;
        while (output.Offer(Numbered(offered, size: 1_000), int.MaxValue) == FrameOffer.Sent)
        {
            offered++;
        }

        offered++; // the one that now waits for the socket
        var delivered = output.WhenDeliveredAsync(Wait);
        await Task.Delay(TimeSpan.FromMilliseconds(200));
        Assert.False(delivered.IsCompleted, "the client has not read, so what the kernel holds is not acknowledged");

        var frames = await pair.ReadFramesAsync(offered).WaitAsync(Wait);
        await delivered.WaitAsync(Wait);
        Assert.Equal(Enumerable.Range(0, offered), frames.Select(NumberOf));
        Assert.Equal(0, NonBlockingSend.UnacknowledgedBytes(pair.Server.SafeHandle));
    }

    [Fact]
    public async Task DeliveredGivesUpOnAClientThatNeverReadsAfterItsTimeout()
    {
        using var pair = await SocketPair.ConnectAsync();
        var output = new SocketFrameOutput(pair.Server, TimeProvider.System);
        while (output.Offer(Numbered(1, size: 10_000), limit: 64) != FrameOffer.Full)
        {
        }

        await output.WhenDeliveredAsync(TimeSpan.FromMilliseconds(300)).WaitAsync(Wait);
        Assert.True(NonBlockingSend.UnacknowledgedBytes(pair.Server.SafeHandle) > 0, "the client never took what was sent");
    }

    [Fact]
    public async Task ManyFramesOfMixedSizesThatWaitForAClientArriveWholeAndInOrderInFewerSendsThanFrames()
    {
        // The client reads only once everything is offered, so nearly all of it waits and leaves in gathered sends, cut
        // wherever the kernel's tiny buffers end: never inside what a client sees as a frame, never out of order.
        using var pair = await SocketPair.ConnectAsync();
        var output = new SocketFrameOutput(pair.Server, TimeProvider.System);
        const int count = 3_000;
        var sizes = new[] { 20, 90, 7, 300, 45, 1_500 };
        for (var i = 0; i < count; i++)
        {
            Assert.NotEqual(FrameOffer.Full, output.Offer(Numbered(i, size: sizes[i % sizes.Length]), int.MaxValue));
        }

        Assert.True(output.QueuedBytes > 0, "the client has not read, so frames wait");
        var frames = await pair.ReadFramesAsync(count).WaitAsync(Wait);
        await output.WhenIdleAsync().WaitAsync(Wait);
        Assert.Equal(Enumerable.Range(0, count), frames.Select(NumberOf));
        Assert.Equal(0, output.QueuedBytes);
        Assert.True(output.SendCalls < count / 2, $"{output.SendCalls} sends for {count} frames: what waited was not gathered");
    }

    [Fact]
    public async Task FramesOfferedFromSeveralThreadsBesideTheWebSocketsOwnWritesArriveWholeAndInOrderPerThread()
    {
        // Fan-out loops of several symbols offer to one connection at once while SignalR writes its pings, and the client
        // reads in odd pieces with pauses: gathered sends cut wherever the kernel stops, but every frame arrives whole and
        // each thread's frames in the order it offered them.
        using var pair = await SocketPair.ConnectAsync();
        var output = new SocketFrameOutput(pair.Server, TimeProvider.System);
        const int threads = 3;
        const int perThread = 1_500;
        const int pings = 300;
        var sizes = new[] { 20, 700, 90, 5_000, 300 };
        var reading = pair.ReadFramesAsync(threads * perThread + pings, readSize: 1_000, pauseEvery: 7);
        var offering = Enumerable.Range(0, threads).Select(t => Task.Run(() =>
        {
            for (var i = 0; i < perThread; i++)
            {
                Assert.NotEqual(FrameOffer.Closed, output.Offer(Numbered((t * 1_000_000) + i, size: sizes[(i + t) % sizes.Length]), int.MaxValue));
            }
        })).Append(Task.Run(() =>
        {
            for (var i = 0; i < pings; i++)
            {
                output.Write(WebSocketFrameScannerTests.Frame(0x09, fin: true, "png"u8.ToArray()));
                Thread.Yield();
            }
        }));
        await Task.WhenAll(offering).WaitAsync(Wait);

        var frames = await reading.WaitAsync(Wait);
        await output.WhenIdleAsync().WaitAsync(Wait);
        Assert.Equal(pings, frames.Count(f => f.Length == 3));
        var numbers = frames.Where(f => f.Length != 3).Select(NumberOf).ToList();
        for (var t = 0; t < threads; t++)
        {
            Assert.Equal(Enumerable.Range(t * 1_000_000, perThread), numbers.Where(n => n / 1_000_000 == t));
        }
    }

    [Fact]
    public async Task ARunOfFramesOfferedWhileNothingWaitsGoesInOneSendWholeAndInOrder()
    {
        using var pair = await SocketPair.ConnectAsync();
        var output = new SocketFrameOutput(pair.Server, TimeProvider.System);
        ReadOnlyMemory<byte>[] run = [Numbered(0, size: 20), Numbered(1, size: 200), Numbered(2, size: 20), Numbered(3, size: 20)];

        Assert.Equal(4, output.OfferRun(run, int.MaxValue, out var refused));
        Assert.Equal(FrameOffer.Sent, refused);
        await output.WhenIdleAsync().WaitAsync(Wait);

        var frames = await pair.ReadFramesAsync(4).WaitAsync(Wait);
        Assert.Equal([0, 1, 2, 3], frames.Select(NumberOf));
        Assert.Equal(1, output.SendCalls); // a send() a frame before
    }

    [Fact]
    public async Task OfferingARunToAClientThatKeepsUpAllocatesNothing()
    {
        using var pair = await SocketPair.ConnectAsync();
        var output = new SocketFrameOutput(pair.Server, TimeProvider.System);
        ReadOnlyMemory<byte>[] run = [Numbered(0, size: 20), Numbered(1, size: 20), Numbered(2, size: 20), Numbered(3, size: 20)];
        const int runs = 50;
        var reading = pair.ReadFramesAsync(count: runs * run.Length);
        var least = long.MaxValue;
        for (var i = 0; i < runs; i++)
        {
            await output.WhenDeliveredAsync(Wait); // the client has taken the last run: the kernel takes this one at once
            var before = GC.GetAllocatedBytesForCurrentThread();
            var taken = output.OfferRun(run, int.MaxValue, out _);
            least = Math.Min(least, GC.GetAllocatedBytesForCurrentThread() - before);
            Assert.Equal(run.Length, taken);
        }

        Assert.Equal(runs * run.Length, (await reading.WaitAsync(Wait)).Count);
        Assert.Equal(0, least);
    }

    [Fact]
    public async Task ARunOfferedWhileFramesWaitQueuesBehindThemInOrderAndStopsAtTheLimit()
    {
        using var pair = await SocketPair.ConnectAsync();
        var output = new SocketFrameOutput(pair.Server, TimeProvider.System);
        const int limit = 16;
        var accepted = 0;
        while (output.Offer(Numbered(accepted, size: 1_000), limit) != FrameOffer.Full)
        {
            accepted++; // the client does not read: the kernel's buffers fill, then the queue up to its limit
        }

        Assert.Equal(0, output.OfferRun([Numbered(accepted, size: 20), Numbered(accepted + 1, size: 20)], limit, out var full));
        Assert.Equal(FrameOffer.Full, full);

        var frames = await pair.ReadFramesAsync(accepted).WaitAsync(Wait);
        await output.WhenIdleAsync().WaitAsync(Wait);
        Assert.Equal(Enumerable.Range(0, accepted), frames.Select(NumberOf));

        // Once the client has read what waited, a run is taken again.
        Assert.Equal(2, output.OfferRun([Numbered(accepted, size: 20), Numbered(accepted + 1, size: 20)], limit, out _));
        var rest = await pair.ReadFramesAsync(2).WaitAsync(Wait);
        Assert.Equal([accepted, accepted + 1], rest.Select(NumberOf));
    }

    [Fact]
    public async Task FramesHeldBehindTheWebSocketsFragmentedMessageFollowItInOneSend()
    {
        using var pair = await SocketPair.ConnectAsync();
        var output = new SocketFrameOutput(pair.Server, TimeProvider.System);

        output.Write(WebSocketFrameScannerTests.Frame(0x01, fin: false, "he"u8.ToArray()));
        for (var i = 0; i < 40; i++)
        {
            Assert.Equal(FrameOffer.Queued, output.Offer(Numbered(i, size: 20), int.MaxValue));
        }

        output.Write(WebSocketFrameScannerTests.Frame(0x00, fin: true, "llo"u8.ToArray()));
        await output.WhenIdleAsync().WaitAsync(Wait);

        var frames = await pair.ReadFramesAsync(42).WaitAsync(Wait);
        Assert.Equal("he", Encoding.UTF8.GetString(frames[0]));
        Assert.Equal("llo", Encoding.UTF8.GetString(frames[1]));
        Assert.Equal(Enumerable.Range(0, 40), frames.Skip(2).Select(NumberOf));
        Assert.Equal(3, output.SendCalls); // the two writes, then the 40 held frames gathered (1.2 KB: the kernel has room)
    }

    [Fact]
    public async Task AClientReadingInSmallPiecesWhileFramesWaitGetsThemWholeAndACutKeepsTheFrameOnTheWireWhole()
    {
        // Gathered sends end inside some waiting frame, not only the first; whatever is cut off then (a slow consumer's
        // frames dropped) must still leave that frame whole on the wire, and the close right behind it.
        using var pair = await SocketPair.ConnectAsync();
        var output = new SocketFrameOutput(pair.Server, TimeProvider.System);
        var sizes = new[] { 30, 2_500, 200, 9_000, 64 };
        var offered = 0;
        var reading = pair.ReadFramesUntilAsync(f => Encoding.UTF8.GetString(f) == "close", readSize: 97);
        for (var round = 0; round < 200; round++)
        {
            while (output.Offer(Numbered(offered, size: sizes[offered % sizes.Length]), limit: 64) != FrameOffer.Full)
            {
                offered++;
            }

            await Task.Yield();
        }

        output.DropWaitingFrames();
        Assert.NotEqual(FrameOffer.Closed, output.OfferLast(Encoding.UTF8.GetBytes("close").AsMemory().Framed()));

        var frames = await reading.WaitAsync(Wait);
        var numbers = frames.SkipLast(1).Select(NumberOf).ToList();
        Assert.Equal(Enumerable.Range(0, numbers.Count), numbers);
        Assert.InRange(numbers.Count, 1, offered);
        await output.WhenIdleAsync().WaitAsync(Wait);
    }

    [Fact]
    public async Task AClientThatResetsWhileFramesWaitEndsTheOutputAndDropsWhatWaits()
    {
        using var pair = await SocketPair.ConnectAsync();
        var output = new SocketFrameOutput(pair.Server, TimeProvider.System);
        var offered = 0;
        while (output.Offer(Numbered(offered, size: 500), limit: 200) != FrameOffer.Full)
        {
            offered++;
        }

        Assert.True(output.QueuedBytes > 0, "frames wait for a client that does not read");
        pair.Client.LingerState = new LingerOption(true, 0);
        pair.Client.Close(); // a reset, as a crashed client's kernel sends, while the drain waits for room

        await output.WhenIdleAsync().WaitAsync(Wait);
        Assert.Equal(FrameOffer.Closed, output.Offer(Numbered(offered, size: 10), int.MaxValue));
        Assert.Equal(0, output.QueuedBytes);
    }

    [Fact]
    public async Task TheByteBoundHoldsWhileFramesWaitAndWhatWasTakenArrivesInOrder()
    {
        const long bound = 20_000;
        using var pair = await SocketPair.ConnectAsync();
        var output = new SocketFrameOutput(pair.Server, TimeProvider.System, byteLimit: bound);
        var accepted = 0;
        while (output.Offer(Numbered(accepted, size: 700 + (accepted % 5 * 300)), int.MaxValue) != FrameOffer.Full)
        {
            accepted++;
        }

        Assert.InRange(output.QueuedBytes, 1, bound);
        var frames = await pair.ReadFramesAsync(accepted).WaitAsync(Wait);
        await output.WhenIdleAsync().WaitAsync(Wait);
        Assert.Equal(Enumerable.Range(0, accepted), frames.Select(NumberOf));
        Assert.InRange(output.PeakQueuedBytes, 1, bound);
        Assert.Equal(0, output.QueuedBytes);
    }

    private static ReadOnlyMemory<byte> Numbered(int number, int size)
    {
        var payload = new byte[Math.Max(size, 4)];
        BinaryPrimitives.WriteInt32BigEndian(payload, number);
        payload.AsSpan(4).Fill((byte)number);
        return payload.AsMemory().Framed();
    }

    private static int NumberOf(byte[] payload)
    {
        var number = BinaryPrimitives.ReadInt32BigEndian(payload);
        Assert.All(payload.AsSpan(4).ToArray(), b => Assert.Equal((byte)number, b)); // arrived whole, not mixed with another
        return number;
    }

    /// <summary>A connected loopback pair with small kernel buffers, so a client that does not read fills them fast.</summary>
    private sealed class SocketPair : IDisposable
    {
        private readonly List<byte> _received = [];

        private SocketPair(Socket server, Socket client)
        {
            Server = server;
            Client = client;
        }

        public Socket Server { get; }

        public Socket Client { get; }

        public static async Task<SocketPair> ConnectAsync()
        {
            using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
            listener.Listen();
            var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { ReceiveBufferSize = 4096 };
            await client.ConnectAsync(listener.LocalEndPoint!).WaitAsync(Wait);
            var server = await listener.AcceptAsync().WaitAsync(Wait);
            server.SendBufferSize = 4096;
            server.NoDelay = true;
            return new SocketPair(server, client);
        }

        public Task<List<byte[]>> ReadFramesAsync(int count) => ReadFramesUntilAsync(null, count);

        public Task<List<byte[]>> ReadFramesAsync(int count, int readSize, int pauseEvery) => ReadFramesUntilAsync(null, count, readSize, pauseEvery);

        /// <param name="pauseEvery">0, or every how many reads the client stops for a millisecond.</param>
        public async Task<List<byte[]>> ReadFramesUntilAsync(Func<byte[], bool>? last, int count = int.MaxValue, int readSize = 16 * 1024, int pauseEvery = 0)
        {
            var frames = new List<byte[]>();
            var buffer = new byte[readSize];
            var reads = 0;
            while (frames.Count < count)
            {
                if (TryTakeFrame(out var payload))
                {
                    frames.Add(payload);
                    if (last?.Invoke(payload) == true)
                    {
                        break;
                    }

                    continue;
                }

                if (pauseEvery > 0 && ++reads % pauseEvery == 0)
                {
                    await Task.Delay(1);
                }

                var read = await Client.ReceiveAsync(buffer, SocketFlags.None);
                Assert.NotEqual(0, read);
                _received.AddRange(buffer.AsSpan(0, read));
            }

            return frames;
        }

        /// <summary>Parses one unmasked server frame off the front of what was received.</summary>
        private bool TryTakeFrame(out byte[] payload)
        {
            payload = [];
            if (_received.Count < 2)
            {
                return false;
            }

            var bytes = _received.ToArray();
            var (headerLength, length) = (bytes[1] & 0x7f) switch
            {
                126 when bytes.Length >= 4 => (4, (int)BinaryPrimitives.ReadUInt16BigEndian(bytes.AsSpan(2))),
                127 when bytes.Length >= 10 => (10, (int)BinaryPrimitives.ReadUInt64BigEndian(bytes.AsSpan(2))),
                126 or 127 => (-1, 0),
                var small => (2, small),
            };
            if (headerLength < 0 || bytes.Length < headerLength + length)
            {
                return false;
            }

            Assert.Equal(0, bytes[1] & 0x80); // a server never masks
            payload = bytes.AsSpan(headerLength, length).ToArray();
            _received.RemoveRange(0, headerLength + length);
            return true;
        }

        public void Dispose()
        {
            Client.Dispose();
            Server.Dispose();
        }
    }
}

internal static class FramingExtensions
{
    /// <summary>The payload as a whole, unmasked text frame.</summary>
    public static ReadOnlyMemory<byte> Framed(this ReadOnlyMemory<byte> payload) => WebSocketFrameScannerTests.Text(payload.ToArray());

    public static ReadOnlyMemory<byte> Framed(this Memory<byte> payload) => WebSocketFrameScannerTests.Text(payload.ToArray());
}
