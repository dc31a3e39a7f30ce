using Microsoft.AspNetCore.Http;
using SignalStream.Contracts;

namespace SignalStream.Testing.FakeExchange;

/// <summary>
/// Hostile and broken output: raw messages of any opcode and content, and messages and REST replies too large to hold in
/// memory.
/// </summary>
public sealed partial class FakeBinanceExchange
{
    /// <summary>WebSocket opcodes for <see cref="SendRawAsync"/> (RFC 6455 5.2); 0x3-0x7 and 0xB-0xF are reserved.</summary>
    public const byte TextOpcode = ServerWebSocket.Text;

    public const byte BinaryOpcode = 0x2;

    public const byte PingOpcode = ServerWebSocket.Ping;

    public const byte PongOpcode = ServerWebSocket.Pong;

    /// <summary>
    /// Sends each message as one final frame, exactly as given (any opcode, any bytes: invalid UTF-8 in a text frame,
    /// a reserved opcode), to every healthy connection subscribed to <paramref name="stream"/> (every healthy connection
    /// when null). Returns how many connections it was written to.
    /// </summary>
    public async Task<int> SendRawAsync(IReadOnlyList<(byte Opcode, byte[] Payload)> messages, string? stream = null,
        CancellationToken cancellationToken = default)
    {
        await _emitLock.WaitAsync(cancellationToken);
        try
        {
            FakeConnection[] targets;
            lock (_connections)
            {
                targets = _connections.Where(c => c.Healthy && (stream is null || c.IsSubscribed(stream))).ToArray();
            }

            var frames = messages.Select(m => (m.Opcode, (ReadOnlyMemory<byte>)m.Payload)).ToList();
            var written = 0;
            foreach (var connection in targets)
            {
                Record(new InjectedFault("raw", stream, Now, connection.Id));
                try
                {
                    await connection.Socket.WriteFramesAsync(frames, cancellationToken);
                    written++;
                }
                catch (Exception ex) when (ex is IOException or ObjectDisposedException or InvalidOperationException
                                               or Microsoft.AspNetCore.Connections.ConnectionResetException)
                {
                    // The client dropped the connection, possibly because of an earlier message of this batch.
                    connection.Dead = true;
                }
            }

            return written;
        }
        finally
        {
            _emitLock.Release();
        }
    }

    /// <summary>
    /// Starts one text message of <paramref name="length"/> bytes on a connection (a random healthy one when
    /// <paramref name="connectionId"/> is null) and streams it in 64 KB writes until it is all sent or the client drops
    /// the connection. The connection gets no more data afterwards. Returns the connection id, or null when none is open.
    /// </summary>
    /// <remarks>The message begins like a kline event, so a client cannot tell it from a real one before it has read it all.</remarks>
    public async Task<int?> SendHugeMessageAsync(long length, int? connectionId = null)
    {
        FakeConnection? connection;
        await _emitLock.WaitAsync();
        try
        {
            connection = PickConnection(connectionId);
            if (connection is null)
            {
                return null;
            }

            // Marked dead before the first byte: no kline write after this is recorded as delivered on it.
            connection.Dead = true;
            Record(new InjectedFault("huge", null, Now, connection.Id));
        }
        finally
        {
            _emitLock.Release();
        }

        var prefix = "{\"stream\":\"btcusdt@kline_1m\",\"data\":{\"e\":\"kline\",\"pad\":\""u8.ToArray();
        try
        {
            await connection.Socket.WriteStreamedFrameAsync(ServerWebSocket.Text, length, prefix, (byte)'a', connection.Closing.Token);
            Interlocked.Add(ref _hugeBytesSent, length);
        }
        catch (Exception ex) when (ex is IOException or ObjectDisposedException or OperationCanceledException or InvalidOperationException
                                       or Microsoft.AspNetCore.Connections.ConnectionResetException)
        {
            // Expected: the client gives up long before the end.
        }

        connection.Abort();
        return connection.Id;
    }

    private long _hugeBytesSent;

    /// <summary>Bytes of huge messages sent to the end (0 when every client dropped them first).</summary>
    public long HugeBytesCompleted => Interlocked.Read(ref _hugeBytesSent);

    private long _oversizedRestLength;
    private long _oversizedRestMostWritten;
    private int _oversizedRestCompleted;
    private int _oversizedRestAbandoned;

    /// <summary>
    /// Answers every later REST request 200 with a body of <paramref name="length"/> bytes: a klines array that repeats
    /// one kline and never closes, chunked (no <c>Content-Length</c>, so a client cannot refuse it before reading), in
    /// 64 KB writes until all is sent or the client stops reading. 0 serves klines again.
    /// </summary>
    public void ServeOversizedRestReplies(long length) => Interlocked.Exchange(ref _oversizedRestLength, length);

    /// <summary>The most bytes of one oversized REST reply handed to the server before it ended.</summary>
    public long OversizedRestMostWritten => Interlocked.Read(ref _oversizedRestMostWritten);

    /// <summary>Oversized REST replies sent to the end (a client read them whole).</summary>
    public int OversizedRestRepliesCompleted => Volatile.Read(ref _oversizedRestCompleted);

    /// <summary>Oversized REST replies the client abandoned before their end.</summary>
    public int OversizedRestRepliesAbandoned => Volatile.Read(ref _oversizedRestAbandoned);

    private IResult? OversizedRestReply(HttpContext context)
    {
        var length = Interlocked.Read(ref _oversizedRestLength);
        return length > 0
            ? Results.Stream(body => WriteOversizedRestReplyAsync(body, length, context.RequestAborted), "application/json")
            : null;
    }

    private async Task WriteOversizedRestReplyAsync(Stream body, long length, CancellationToken aborted)
    {
        var first = _streams[0];
        var kline = FakeFrames.KlinesArray([Market.CandleAt(first.Symbol, first.Timeframe, first.Timeframe.OpenTimeOf(Now))]);
        var row = kline.AsSpan(1, kline.Length - 2); // [[…]] without the outer brackets
        var chunk = new byte[64 * 1024 / (row.Length + 1) * (row.Length + 1)];
        for (var at = 0; at < chunk.Length; at += row.Length + 1)
        {
            row.CopyTo(chunk.AsSpan(at));
            chunk[at + row.Length] = (byte)',';
        }

        long written = 0;
        try
        {
            await body.WriteAsync("["u8.ToArray(), aborted);
            written = 1;
            while (written < length)
            {
                var size = (int)Math.Min(chunk.Length, length - written);
                await body.WriteAsync(chunk.AsMemory(0, size), aborted);
                written += size;

                // Once the client has dropped the connection Kestrel completes writes without throwing, and signals
                // RequestAborted from the thread pool a moment later: the pause lets it, so writes nobody reads are not
                // counted (64 MB of them would take microseconds). 1,024 pauses of ~1 ms make a 64 MB reply ~2 s.
                await Task.Delay(1, aborted);
            }

            await body.FlushAsync(aborted);
            Interlocked.Increment(ref _oversizedRestCompleted);
        }
        catch (Exception ex) when (ex is IOException or ObjectDisposedException or OperationCanceledException
                                       or Microsoft.AspNetCore.Connections.ConnectionResetException)
        {
            // Expected: the client stops reading long before the end.
            Interlocked.Increment(ref _oversizedRestAbandoned);
        }

        long most;
        do
        {
            most = Interlocked.Read(ref _oversizedRestMostWritten);
        }
        while (written > most && Interlocked.CompareExchange(ref _oversizedRestMostWritten, written, most) != most);
    }

    /// <summary>The combined-stream kline frame this exchange would send for <paramref name="candle"/>: a seed for mutation.</summary>
    public byte[] KlineFrameBytes(in Candle candle, bool closed, long eventTime)
    {
        var name = $"{candle.Symbol.ToLowerInvariant()}@kline_{candle.Timeframe.ToName()}";
        var raw = FakeFrames.KlinePayload(candle, closed, eventTime, Market.FirstTradeId(candle.Symbol, candle.Timeframe, candle.OpenTime));
        return FakeFrames.Combined(name, raw);
    }
}
