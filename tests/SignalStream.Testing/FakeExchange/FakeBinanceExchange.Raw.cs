using SignalStream.Contracts;

namespace SignalStream.Testing.FakeExchange;

/// <summary>Hostile and broken output: raw messages of any opcode and content, and messages too large to hold in memory.</summary>
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

    /// <summary>The combined-stream kline frame this exchange would send for <paramref name="candle"/>: a seed for mutation.</summary>
    public byte[] KlineFrameBytes(in Candle candle, bool closed, long eventTime)
    {
        var name = $"{candle.Symbol.ToLowerInvariant()}@kline_{candle.Timeframe.ToName()}";
        var raw = FakeFrames.KlinePayload(candle, closed, eventTime, Market.FirstTradeId(candle.Symbol, candle.Timeframe, candle.OpenTime));
        return FakeFrames.Combined(name, raw);
    }
}
