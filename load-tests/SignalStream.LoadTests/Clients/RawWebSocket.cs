using System.Net.Sockets;
using System.Net.WebSockets;
using System.Text;
using SignalStream.Testing;

namespace SignalStream.LoadTests.Clients;

/// <summary>
/// The client side of RFC 6455 straight on a <see cref="Socket"/>: the upgrade request, then frames parsed in place from
/// one receive buffer, and masked frames sent (the bytes of each from the test kit's <see cref="WebSocketFrames"/>). What
/// a load client needs and nothing more.
/// </summary>
/// <remarks>
/// The harness shares the machine's two cores with the server it measures, so its cost per message is taken from the
/// server. <see cref="ClientWebSocket"/> costs several layers per message (the HTTP connection's stream, the managed
/// WebSocket's state machines, UTF-8 validation of every text message); measured with perf at 60k messages/s they were
/// about a fifth of the harness's CPU. Both servers under test are read through this one client.
/// </remarks>
internal sealed class RawWebSocket : IDisposable
{
    private readonly Socket _socket;
    private byte[] _received = new byte[8 * 1024];
    private int _start;
    private int _end;

    private RawWebSocket(Socket socket)
    {
        _socket = socket;
    }

    public bool IsOpen { get; private set; } = true;

    /// <summary>Upgrades a connected socket; any bytes after the 101 response are the first frames.</summary>
    public static async Task<RawWebSocket> UpgradeAsync(Socket socket, Uri endpoint, CancellationToken cancellationToken)
    {
        var (request, expected) = WebSocketFrames.UpgradeRequest(endpoint);
        await socket.SendAsync(request, SocketFlags.None, cancellationToken);

        var client = new RawWebSocket(socket);
        int headerEnd;
        while ((headerEnd = client._received.AsSpan(0, client._end).IndexOf("\r\n\r\n"u8)) < 0)
        {
            if (await client.ReceiveAsync(cancellationToken) == 0)
            {
                throw new WebSocketException("the server closed the connection during the upgrade");
            }
        }

        var response = Encoding.ASCII.GetString(client._received, 0, headerEnd);
        if (!response.StartsWith("HTTP/1.1 101", StringComparison.Ordinal) || !response.Contains(expected, StringComparison.Ordinal))
        {
            throw new WebSocketException("upgrade refused: " + response.Split("\r\n")[0]);
        }

        client._start = headerEnd + 4;
        return client;
    }

    /// <summary>Reads what the socket has into the buffer (after what is not parsed yet); 0 when the server closed.</summary>
    public async ValueTask<int> ReceiveAsync(CancellationToken cancellationToken = default)
    {
        if (_start > 0)
        {
            _received.AsSpan(_start, _end - _start).CopyTo(_received);
            _end -= _start;
            _start = 0;
        }

        if (_end == _received.Length)
        {
            Array.Resize(ref _received, _received.Length * 2);
        }

        var read = await _socket.ReceiveAsync(_received.AsMemory(_end), SocketFlags.None, cancellationToken);
        _end += read;
        if (read == 0)
        {
            IsOpen = false;
        }

        return read;
    }

    /// <summary>Takes the next whole frame from the buffer (its payload stays valid until the next receive); false when
    /// no whole frame is buffered.</summary>
    public bool TryTakeFrame(out WebSocketOpcode opcode, out bool fin, out ReadOnlySpan<byte> payload)
    {
        opcode = default;
        fin = false;
        payload = default;
        var buffered = _received.AsSpan(_start, _end - _start);
        if (!WebSocketFrames.TryReadHeader(buffered, out var header, out var length, out var masked))
        {
            return false;
        }

        if (masked)
        {
            throw new WebSocketException("the server masked a frame (RFC 6455 section 5.1 forbids it)");
        }

        fin = (buffered[0] & 0x80) != 0;
        opcode = (WebSocketOpcode)(buffered[0] & 0x0f);
        payload = buffered.Slice(header, length);
        _start += header + length;
        return true;
    }

    public ValueTask SendTextAsync(ReadOnlyMemory<byte> payload, CancellationToken cancellationToken) =>
        SendAsync(WebSocketOpcode.Text, payload.Span, cancellationToken);

    public ValueTask SendBinaryAsync(ReadOnlyMemory<byte> payload, CancellationToken cancellationToken) =>
        SendAsync(WebSocketOpcode.Binary, payload.Span, cancellationToken);

    public ValueTask SendPongAsync(ReadOnlySpan<byte> payload, CancellationToken cancellationToken) =>
        SendAsync(WebSocketOpcode.Pong, payload, cancellationToken);

    /// <summary>Sends a close frame (1000) and ends the sending side.</summary>
    public async ValueTask CloseAsync(CancellationToken cancellationToken)
    {
        await SendAsync(WebSocketOpcode.Close, [0x03, 0xe8], cancellationToken);
        _socket.Shutdown(SocketShutdown.Send);
    }

    /// <summary>Ends the connection at once, as a crashed client would.</summary>
    public void Abort()
    {
        IsOpen = false;
        _socket.Dispose();
    }

    public void Dispose() => Abort();

    private ValueTask SendAsync(WebSocketOpcode opcode, ReadOnlySpan<byte> payload, CancellationToken cancellationToken) =>
        SendAllAsync(WebSocketFrames.ClientFrame((byte)(0x80 | (int)opcode), payload), cancellationToken);

    private async ValueTask SendAllAsync(ReadOnlyMemory<byte> frame, CancellationToken cancellationToken)
    {
        while (!frame.IsEmpty)
        {
            var sent = await _socket.SendAsync(frame, SocketFlags.None, cancellationToken);
            frame = frame[sent..];
        }
    }
}

/// <summary>RFC 6455 section 5.2 opcodes.</summary>
internal enum WebSocketOpcode
{
    Continuation = 0x0,
    Text = 0x1,
    Binary = 0x2,
    Close = 0x8,
    Ping = 0x9,
    Pong = 0xa,
}
