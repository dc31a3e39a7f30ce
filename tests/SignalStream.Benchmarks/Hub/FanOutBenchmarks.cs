using System.Buffers;
using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using System.Threading.Tasks.Sources;
using BenchmarkDotNet.Attributes;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Connections.Features;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.SignalR;
using Microsoft.AspNetCore.SignalR.Protocol;
using Microsoft.Extensions.Logging.Abstractions;
using SignalStream.Contracts;
using SignalStream.Hub.FanOut;
using SignalStream.Hub.FanOut.Internal;
using SignalStream.Hub.Hubs;
using SignalStream.Hub.Transport;

namespace SignalStream.Benchmarks.Hub;

/// <summary>
/// One signal through a symbol's real fan-out to N connections: <see cref="SymbolFeed"/> (ordering, serialize once, offer
/// to each subscriber), each <see cref="ConnectionState"/> (written at once while it keeps up, queued behind a pending
/// write otherwise), and then either SignalR's own
/// <see cref="HubConnectionContext.WriteAsync(SerializedHubMessage, CancellationToken)"/> into an in-memory pipe that a
/// reader drains, as a socket transport would (<see cref="PipeClientOutput"/>), or the node's own non-blocking send on a
/// real loopback TCP socket that a client reads (<see cref="SocketClientOutput"/>, <c>Hub:DirectSocketSends</c>). An
/// operation ends when all N connections have the frame (on their pipe, or read by their client).
/// </summary>
/// <remarks>
/// Allocated bytes are process-wide (every thread), so they include the writer loops and pipes. The operation also
/// builds its input, a fresh <see cref="Signal"/> with the next seq (the feed drops a seq it has delivered): that copy is
/// measured alone by <see cref="CopySignalOnly"/>. Serialize-once and no per-delivered-message allocation show as
/// allocated bytes per operation that do not grow with <see cref="Connections"/>. <see cref="Protocol"/> is every
/// connection's hub protocol: the message is serialized once in it.
/// </remarks>
[MemoryDiagnoser]
public class FanOutBenchmarks
{
    private readonly CancellationTokenSource _stop = new();
    private readonly List<Task> _drains = [];
    private readonly List<PipeWriter> _transports = [];
    private readonly List<Socket> _sockets = [];
    private readonly List<DefaultConnectionContext> _connections = [];
    private readonly DeliveryWaiter _waiter = new();
    private readonly BenchMeterFactory _meters = new();
    private SymbolFeed _feed = null!;
    private Signal _template = null!;
    private long _seq;

    [Params(1, 100, 1000)]
    public int Connections { get; set; }

    /// <summary>
    /// <c>socket</c>: the node's own send on loopback TCP (the client's receive is in the measured time and process).
    /// <c>pipe-shared</c> and <c>pipe-reusing</c>: SignalR's path into in-memory pipes whose memory is
    /// <see cref="MemoryPool{T}.Shared"/> (what a bare <see cref="Pipe"/> uses; it allocates an owner object per block it
    /// hands out) or a pool that hands the same blocks back, as Kestrel's pinned block pool does; the difference between
    /// those two is the pipes' cost, not the hub's.
    /// </summary>
    [Params("socket", "pipe-shared", "pipe-reusing")]
    public string Output { get; set; } = "socket";

    /// <summary>The connections' hub protocol: <c>json</c> (text frames, records ending in 0x1E) or <c>messagepack</c>
    /// (binary frames, length-prefixed records).</summary>
    [Params("json", "messagepack")]
    public string Protocol { get; set; } = "json";

    private static PipeOptions PipeOptionsFor(string output) => output == "pipe-reusing"
        ? new PipeOptions(pool: ReusingPool.Instance, minimumSegmentSize: 4096, useSynchronizationContext: false)
        : new PipeOptions(useSynchronizationContext: false);

    [GlobalSetup]
    public async Task SetupAsync()
    {
        var options = new SignalHubOptions { OutboundQueueLimit = 1024 };
        var time = TimeProvider.System;
        var context = new FeedContext(options, history: null, new HubMetrics(_meters), time, NullLogger.Instance, _ => throw new InvalidOperationException("no consumer is slow here"));
        _feed = new SymbolFeed("BTCUSDT", context, _stop.Token);
        _template = MakeSignal(0);
        IHubProtocol protocol = Protocol == "messagepack" ? MessagePackFrames.Protocol : new JsonHubProtocol();
        var mask = SignalSubscription.MaskOf(Timeframes.All);
        using var listener = Output == "socket" ? Listen() : null;
        for (var i = 0; i < Connections; i++)
        {
            var transport = new Pipe(PipeOptionsFor(Output));
            var application = new Pipe(PipeOptionsFor(Output));
            var connection = new DefaultConnectionContext($"c{i}", new DuplexPipe(application.Reader, transport.Writer), new DuplexPipe(transport.Reader, application.Writer));
            _connections.Add(connection);
            if (listener is not null)
            {
                // The node's side of a real loopback connection, published as the upgrade does; the client reads.
                var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
                await client.ConnectAsync(listener.LocalEndPoint!);
                var server = await listener.AcceptAsync();
                server.NoDelay = true;
                var http = new DefaultHttpContext();
                http.Features.Set(new SocketFrameOutput(server, time));
                connection.Features.Set<IHttpContextFeature>(new RequestFeature(http));
                _sockets.Add(client);
                _sockets.Add(server);
                _drains.Add(DrainAsync(client));
            }
            else
            {
                _transports.Add(transport.Writer);
                _drains.Add(DrainAsync(transport.Reader, Protocol == "messagepack" ? new MessagePackRecordCounter() : null));
            }

            var hubContext = new HubConnectionContext(connection, new HubConnectionContextOptions { KeepAliveInterval = Timeout.InfiniteTimeSpan, ClientTimeoutInterval = Timeout.InfiniteTimeSpan }, NullLoggerFactory.Instance)
            {
                Protocol = protocol,
            };
            var state = new ConnectionState(hubContext, options, time, _ => { });
            await _feed.SubscribeAsync(new SignalSubscription(state, "BTCUSDT", mask, 0), afterSeq: null, afterOutcomeSeq: null, ["1m"], CancellationToken.None);
        }
    }

    [GlobalCleanup]
    public async Task CleanupAsync()
    {
        _feed.Complete();
        await _stop.CancelAsync();
        foreach (var writer in _transports)
        {
            await writer.CompleteAsync();
        }

        foreach (var socket in _sockets)
        {
            socket.Dispose();
        }

        await Task.WhenAll(_drains).WaitAsync(TimeSpan.FromSeconds(10)).ContinueWith(_ => { }, TaskScheduler.Default);
        foreach (var connection in _connections)
        {
            await connection.DisposeAsync();
        }

        _stop.Dispose();
        _meters.Dispose();
    }

    [Benchmark]
    public async Task OneSignalToEveryConnection()
    {
        var signal = _template with { Seq = ++_seq };
        var delivered = _waiter.Expect(Connections);
        await _feed.PostAsync(new FeedItem(signal, null), CancellationToken.None);
        await delivered;
    }

    /// <summary>The input the fan-out benchmark builds per operation, alone: subtract it from that benchmark's bytes.</summary>
    [Benchmark]
    public Signal CopySignalOnly() => _template with { Seq = ++_seq };

    private async Task DrainAsync(PipeReader reader, MessagePackRecordCounter? messagePack)
    {
        try
        {
            while (true)
            {
                // No token: a cancellable read registers a callback per read, a cost of this harness, not of the hub.
                var result = await reader.ReadAsync();
                var frames = messagePack is null ? CountFrames(result.Buffer) : messagePack.Count(result.Buffer);
                reader.AdvanceTo(result.Buffer.End);
                if (frames > 0)
                {
                    _waiter.Delivered(frames);
                }

                if (result.IsCompleted)
                {
                    return;
                }
            }
        }
        catch (OperationCanceledException)
        {
            // Benchmark finished.
        }
    }

    private async Task DrainAsync(Socket client)
    {
        var buffer = new byte[64 * 1024];
        var frames = new FrameCounter();
        try
        {
            while (true)
            {
                var read = await client.ReceiveAsync(buffer.AsMemory(), SocketFlags.None);
                if (read == 0)
                {
                    return;
                }

                var ended = frames.Count(buffer.AsSpan(0, read));
                if (ended > 0)
                {
                    _waiter.Delivered(ended);
                }
            }
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
        {
            // Benchmark finished.
        }
    }

    /// <summary>Counts the whole unmasked frames in a byte stream however it is cut (a length byte may be 0x1E, so
    /// counting separators would not do).</summary>
    private sealed class FrameCounter
    {
        private readonly byte[] _header = new byte[4];
        private int _headerFilled;
        private int _payloadLeft;

        public int Count(ReadOnlySpan<byte> bytes)
        {
            var ended = 0;
            while (!bytes.IsEmpty)
            {
                if (_payloadLeft > 0)
                {
                    var skipped = Math.Min(_payloadLeft, bytes.Length);
                    _payloadLeft -= skipped;
                    bytes = bytes[skipped..];
                    ended += _payloadLeft == 0 ? 1 : 0;
                    continue;
                }

                _header[_headerFilled++] = bytes[0];
                bytes = bytes[1..];
                var needed = (_header[1] & 0x7f) == 126 ? 4 : 2;
                if (_headerFilled >= 2 && _headerFilled == needed)
                {
                    _payloadLeft = needed == 4 ? (_header[2] << 8) | _header[3] : _header[1] & 0x7f;
                    _headerFilled = 0;
                }
            }

            return ended;
        }
    }

    /// <summary>Counts whole MessagePack records (a VarInt length prefix, then that many bytes) however the stream is cut.</summary>
    private sealed class MessagePackRecordCounter
    {
        private int _prefixShift;
        private long _prefixValue;
        private long _payloadLeft = -1;

        public int Count(ReadOnlySequence<byte> buffer)
        {
            var ended = 0;
            foreach (var segment in buffer)
            {
                var bytes = segment.Span;
                while (!bytes.IsEmpty)
                {
                    if (_payloadLeft > 0)
                    {
                        var skipped = (int)Math.Min(_payloadLeft, bytes.Length);
                        _payloadLeft -= skipped;
                        bytes = bytes[skipped..];
                        if (_payloadLeft == 0)
                        {
                            ended++;
                            _payloadLeft = -1;
                        }

                        continue;
                    }

                    var b = bytes[0];
                    bytes = bytes[1..];
                    _prefixValue |= (long)(b & 0x7f) << _prefixShift;
                    _prefixShift += 7;
                    if ((b & 0x80) == 0)
                    {
                        _payloadLeft = _prefixValue;
                        _prefixValue = 0;
                        _prefixShift = 0;
                    }
                }
            }

            return ended;
        }
    }

    private static Listener Listen() => new();

    private sealed class RequestFeature(HttpContext http) : IHttpContextFeature
    {
        public HttpContext? HttpContext { get; set; } = http;
    }

    /// <summary>A loopback listener for the socket connections, closed once they are all accepted.</summary>
    private sealed class Listener : IDisposable
    {
        private readonly Socket _socket = new(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);

        public Listener()
        {
            _socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
            _socket.Listen(1024);
        }

        public EndPoint? LocalEndPoint => _socket.LocalEndPoint;

        public Task<Socket> AcceptAsync() => _socket.AcceptAsync();

        public void Dispose() => _socket.Dispose();
    }

    private static int CountFrames(ReadOnlySequence<byte> buffer)
    {
        var count = 0;
        foreach (var segment in buffer)
        {
            count += segment.Span.Count((byte)0x1e);
        }

        return count;
    }

    private static Signal MakeSignal(long seq) => new()
    {
        Id = $"BTCUSDT-1m-{seq}",
        Seq = seq,
        Symbol = "BTCUSDT",
        Timeframe = Timeframe.OneMinute,
        Direction = SignalDirection.Long,
        Confidence = 80,
        Probabilities = new ClassProbabilities(0.1, 0.1, 0.8),
        Entry = 100m,
        Target = 110m,
        Stop = 95m,
        RiskReward = 2,
        FusionScore = 70,
        Models = [new ModelVote("lstm-direction", "1.0.0", "lstm", "long", 0.6, new ClassProbabilities(0.1, 0.1, 0.8))],
        Rationale = ["benchmark"],
        CandleOpenTime = 1_700_000_000_000,
        CandleCloseTime = 1_700_000_059_999,
        CreatedAt = 1_700_000_060_000,
        ExpiresAt = 1_700_003_600_000,
        ExchangeTime = 1_700_000_060_000,
        ReceivedAt = 1_700_000_060_001,
    };

    private sealed class ReusingPool : MemoryPool<byte>
    {
        public static readonly ReusingPool Instance = new();
        private readonly System.Collections.Concurrent.ConcurrentBag<Block> _free = [];

        public override int MaxBufferSize => 4096;

        public override IMemoryOwner<byte> Rent(int minBufferSize = -1) => _free.TryTake(out var block) ? block : new Block(this);

        protected override void Dispose(bool disposing)
        {
        }

        private sealed class Block(ReusingPool owner) : IMemoryOwner<byte>
        {
            private readonly byte[] _array = new byte[4096];

            public Memory<byte> Memory => _array;

            public void Dispose() => owner._free.Add(this);
        }
    }

    private sealed class DuplexPipe(PipeReader input, PipeWriter output) : IDuplexPipe
    {
        public PipeReader Input { get; } = input;

        public PipeWriter Output { get; } = output;
    }

    /// <summary>Completes (without allocating) once the expected number of frames reached the pipes.</summary>
    private sealed class DeliveryWaiter : IValueTaskSource
    {
        private ManualResetValueTaskSourceCore<bool> _core = new() { RunContinuationsAsynchronously = true };
        private int _remaining;

        public ValueTask Expect(int frames)
        {
            _core.Reset();
            Volatile.Write(ref _remaining, frames);
            return new ValueTask(this, _core.Version);
        }

        public void Delivered(int frames)
        {
            if (Interlocked.Add(ref _remaining, -frames) == 0)
            {
                _core.SetResult(true);
            }
        }

        public void GetResult(short token) => _core.GetResult(token);

        public ValueTaskSourceStatus GetStatus(short token) => _core.GetStatus(token);

        public void OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
            _core.OnCompleted(continuation, state, token, flags);
    }
}
