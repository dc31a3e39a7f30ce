using System.Diagnostics.CodeAnalysis;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;

namespace SignalStream.Hub.Tests.Infrastructure;

/// <summary>
/// A hostile client's view of the hub: RFC 6455 and SignalR's JSON records by hand on a plain TCP socket, so a test can
/// do what a well-behaved client library never would (upgrade and stay silent, never read, send any bytes as a frame,
/// connect from another loopback address). Reads only when the test says so. The frames' bytes come from the test kit's
/// <see cref="WebSocketFrames"/>, as the load harness's clients' do.
/// </summary>
/// <remarks>
/// With <c>protocol: "messagepack"</c> the handshake asks for SignalR's MessagePack protocol; the server's binary frames
/// then carry length-prefixed MessagePack records (<see cref="MessagePackRecords"/> reads them), its text frames JSON.
/// </remarks>
internal sealed class RawHubSocket : IDisposable
{
    private const byte RecordSeparator = 0x1e;
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(20);

    private readonly Socket _socket;
    private readonly Uri _endpoint;
    private readonly Bytes _received = new();
    private readonly Bytes _message = new();
    private readonly Queue<byte[]> _records = new();
    private int _messageOpcode;
    private bool _messagePack;
    private bool _awaitingHandshake;

    // Neither holds anything to release (the semaphore is only awaited; the token source has no timer and no parent),
    // and the ping loop may still read the token after Dispose.
    [SuppressMessage("Usage", "CA2213:Disposable fields should be disposed", Justification = "See the comment.")]
    private readonly SemaphoreSlim _sendLock = new(1, 1);
    [SuppressMessage("Usage", "CA2213:Disposable fields should be disposed", Justification = "See the comment.")]
    private readonly CancellationTokenSource _stop = new();
    private bool _closeSeen;

    private RawHubSocket(Socket socket, Uri endpoint)
    {
        _socket = socket;
        _endpoint = endpoint;
    }

    /// <summary>The client's own port: how the node's side of this connection can be found.</summary>
    public int LocalPort => ((IPEndPoint)_socket.LocalEndPoint!).Port;

    /// <summary>True once the server sent its WebSocket close frame or ended the TCP connection.</summary>
    public bool ServerClosed { get; private set; }

    /// <summary>True when the server ended the connection without a WebSocket close frame (it aborted the socket).</summary>
    public bool Dropped { get; private set; }

    /// <summary>The error of the first SignalR close message (type 7) the server sent, if any.</summary>
    public string? CloseError { get; private set; }

    /// <summary>Opens a TCP connection to the node's hub path; no HTTP is sent yet.</summary>
    /// <param name="from">A loopback source address (127.0.0.2, ...), to be another client address.</param>
    /// <param name="receiveBufferBytes">A small kernel receive buffer makes a client that does not read back up fast.</param>
    public static async Task<RawHubSocket> OpenAsync(Uri baseAddress, IPAddress? from = null, int? receiveBufferBytes = null, string? accessToken = null)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        if (receiveBufferBytes is int bytes)
        {
            socket.ReceiveBufferSize = bytes;
        }

        if (from is not null)
        {
            socket.Bind(new IPEndPoint(from, 0));
        }

        using var cts = new CancellationTokenSource(Timeout);
        await socket.ConnectAsync(baseAddress.Host, baseAddress.Port, cts.Token);
        var endpoint = new UriBuilder(baseAddress) { Path = "/hubs/signals", Query = accessToken is null ? "" : "access_token=" + Uri.EscapeDataString(accessToken) }.Uri;
        return new RawHubSocket(socket, endpoint);
    }

    /// <summary>Opens, upgrades and completes the SignalR handshake: a connected client that reads only when told.</summary>
    public static async Task<RawHubSocket> ConnectAsync(Uri baseAddress, IPAddress? from = null, int? receiveBufferBytes = null, string? accessToken = null,
        string protocol = "json")
    {
        var client = await OpenAsync(baseAddress, from, receiveBufferBytes, accessToken);
        var (status, _) = await client.UpgradeAsync();
        if (status != 101)
        {
            client.Dispose();
            throw new InvalidOperationException($"upgrade refused with {status}");
        }

        client._messagePack = protocol == "messagepack";
        client._awaitingHandshake = true;
        await client.SendRecordAsync(Encoding.UTF8.GetBytes($"{{\"protocol\":\"{protocol}\",\"version\":1}}"));
        var handshake = await client.ReadRecordAsync() ?? throw new InvalidOperationException("closed during the handshake");
        if (handshake.Length > 2)
        {
            throw new InvalidOperationException("handshake refused: " + Encoding.UTF8.GetString(handshake));
        }

        return client;
    }

    /// <summary>From the next handshake answer on, reads the server's binary frames as MessagePack records (for a test
    /// that sends its own MessagePack handshake).</summary>
    public void ReadMessagePack()
    {
        _messagePack = true;
        _awaitingHandshake = true;
    }

    /// <summary>Sends the WebSocket upgrade request; returns the response status and body (the body only when refused).</summary>
    public async Task<(int Status, string Body)> UpgradeAsync()
    {
        var (request, expected) = WebSocketFrames.UpgradeRequest(_endpoint);
        await SendBytesAsync(request);
        int headerEnd;
        while ((headerEnd = _received.Span.IndexOf("\r\n\r\n"u8)) < 0)
        {
            if (!await ReceiveAsync(Timeout))
            {
                throw new IOException("the server closed the connection during the upgrade");
            }
        }

        var head = Encoding.ASCII.GetString(_received.Span[..headerEnd]);
        _received.Consume(headerEnd + 4);
        var status = int.Parse(head.Split(' ', 3)[1], System.Globalization.CultureInfo.InvariantCulture);
        if (status == 101)
        {
            Assert.Contains(expected, head, StringComparison.Ordinal);
            return (status, "");
        }

        if (head.Contains("Transfer-Encoding: chunked", StringComparison.OrdinalIgnoreCase))
        {
            while (_received.Span.IndexOf("0\r\n\r\n"u8) < 0 && await ReceiveAsync(Timeout))
            {
            }

            var chunked = Encoding.UTF8.GetString(_received.Span);
            _received.Clear();
            var decoded = new StringBuilder();
            var at = 0;
            while (true)
            {
                var lineEnd = chunked.IndexOf("\r\n", at, StringComparison.Ordinal);
                var size = Convert.ToInt32(chunked[at..lineEnd], 16);
                if (size == 0)
                {
                    return (status, decoded.ToString());
                }

                decoded.Append(chunked, lineEnd + 2, size);
                at = lineEnd + 2 + size + 2;
            }
        }

        var length = head.Split("\r\n").FirstOrDefault(l => l.StartsWith("Content-Length:", StringComparison.OrdinalIgnoreCase)) is { } line
            ? int.Parse(line.AsSpan(15).Trim(), System.Globalization.CultureInfo.InvariantCulture)
            : 0;
        while (_received.Count < length && await ReceiveAsync(Timeout))
        {
        }

        var body = Encoding.UTF8.GetString(_received.Span[..Math.Min(length, _received.Count)]);
        _received.Clear();
        return (status, body);
    }

    /// <summary>Sends one SignalR record (the JSON and its separator) as a masked text frame.</summary>
    public Task SendRecordAsync(byte[] json)
    {
        var record = new byte[json.Length + 1];
        json.CopyTo(record, 0);
        record[^1] = RecordSeparator;
        return SendFrameAsync(0x1, fin: true, record);
    }

    /// <summary>Sends an invocation; with an id the server answers with a completion.</summary>
    public Task InvokeAsync(string? invocationId, string target, params object?[] arguments) =>
        SendRecordAsync(JsonSerializer.SerializeToUtf8Bytes(invocationId is null
            ? (object)new { type = 1, target, arguments }
            : new { type = 1, invocationId, target, arguments }));

    /// <summary>Sends one MessagePack message, length-prefixed, as a masked binary frame.</summary>
    public Task SendMessagePackAsync(ReadOnlySpan<byte> message) => SendFrameAsync(0x2, fin: true, MessagePackRecords.Prefixed(message));

    /// <summary>Sends an invocation over MessagePack (<c>[1, {}, id, target, arguments, []]</c>); with an id the server
    /// answers with a completion.</summary>
    public Task InvokeMessagePackAsync(string? invocationId, string target, params object?[] arguments) =>
        SendMessagePackAsync(MessagePackRecords.Invocation(invocationId, target, arguments));

    /// <summary>Sends a masked frame with any opcode and payload, as a client must (RFC 6455 section 5.3).</summary>
    public Task SendFrameAsync(byte opcode, bool fin, ReadOnlySpan<byte> payload, bool masked = true) =>
        SendRawFrameAsync((byte)((fin ? 0x80 : 0) | (opcode & 0x0f)), payload, masked);

    /// <summary>Sends a frame whose first byte (FIN, the reserved bits, the opcode) is whatever the test says.</summary>
    public Task SendRawFrameAsync(byte head, ReadOnlySpan<byte> payload, bool masked = true) =>
        SendBytesAsync(WebSocketFrames.ClientFrame(head, payload, masked));

    public async Task SendBytesAsync(byte[] bytes)
    {
        using var cts = new CancellationTokenSource(Timeout);
        await _sendLock.WaitAsync(cts.Token);
        try
        {
            await _socket.SendAsync(bytes, SocketFlags.None, cts.Token);
        }
        finally
        {
            _sendLock.Release();
        }
    }

    /// <summary>Sends a SignalR ping every few seconds from now on, so SignalR's 30 s client timeout never ends a client
    /// that only stopped reading.</summary>
    public void KeepAlive() => _ = Task.Run(async () =>
    {
        try
        {
            while (true)
            {
                await Task.Delay(TimeSpan.FromSeconds(5), _stop.Token);
                await (_messagePack ? SendMessagePackAsync([0x91, 0x06]) : SendRecordAsync("{\"type\":6}"u8.ToArray()));
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or SocketException or ObjectDisposedException)
        {
            // Disposed, or the server ended the connection.
        }
    });

    /// <summary>The next SignalR record the server sent (reading as needed), or null once the server closed.</summary>
    public async Task<byte[]?> ReadRecordAsync(TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? Timeout);
        while (_records.Count == 0)
        {
            ParseFrames();
            if (_records.Count > 0)
            {
                break;
            }

            if (ServerClosed)
            {
                return null;
            }

            var left = deadline - DateTime.UtcNow;
            if (left <= TimeSpan.Zero)
            {
                throw new TimeoutException("no record from the server");
            }

            await ReceiveAsync(left);
        }

        return _records.Dequeue();
    }

    /// <summary>The next record that is a completion (type 3) for <paramref name="invocationId"/>, skipping others, all
    /// within <paramref name="timeout"/> (the node's pings do not extend it).</summary>
    public async Task<JsonElement> ReadCompletionAsync(string invocationId, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? Timeout);
        while (await ReadRecordAsync(deadline - DateTime.UtcNow) is { } record)
        {
            var root = AsJson(record);
            if (root.GetProperty("type").GetInt32() == 3 && root.GetProperty("invocationId").GetString() == invocationId)
            {
                return root;
            }
        }

        throw new IOException($"the server closed before completing {invocationId}");
    }

    /// <summary>A record as the JSON protocol's object, whichever protocol this connection speaks.</summary>
    public JsonElement AsJson(byte[] record)
    {
        if (_messagePack)
        {
            return JsonSerializer.SerializeToElement(MessagePackRecords.ToJson(record));
        }

        using var doc = JsonDocument.Parse(record);
        return doc.RootElement.Clone();
    }

    /// <summary>Reads everything until the server ends the connection, all within <paramref name="timeout"/>; returns the
    /// records received on the way.</summary>
    public async Task<List<byte[]>> ReadUntilClosedAsync(TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? Timeout);
        var records = new List<byte[]>();
        while (await ReadRecordAsync(deadline - DateTime.UtcNow) is { } record)
        {
            records.Add(record);
        }

        return records;
    }

    /// <summary>Takes in at most <paramref name="bytes"/> from the socket (a client that reads slowly); false once closed.</summary>
    public async Task<bool> ReadSomeAsync(int bytes, TimeSpan timeout)
    {
        try
        {
            return await ReceiveAsync(timeout, bytes);
        }
        catch (TimeoutException)
        {
            return !ServerClosed;
        }
    }

    /// <summary>Ends the TCP connection at once.</summary>
    public void Dispose()
    {
        _stop.Cancel();
        _socket.Dispose();
    }

    /// <summary>Takes in what the socket has; false once the server closed. Throws <see cref="TimeoutException"/> when
    /// nothing came within <paramref name="timeout"/>.</summary>
    private async Task<bool> ReceiveAsync(TimeSpan timeout, int max = 64 * 1024)
    {
        var buffer = new byte[max];
        using var cts = new CancellationTokenSource(timeout);
        int read;
        try
        {
            read = await _socket.ReceiveAsync(buffer, SocketFlags.None, cts.Token);
        }
        catch (OperationCanceledException)
        {
            throw new TimeoutException($"nothing from the server within {timeout}");
        }
        catch (SocketException)
        {
            read = 0; // reset by the server
        }

        if (read == 0)
        {
            if (!ServerClosed)
            {
                Dropped = true;
            }

            ServerClosed = true;
            return false;
        }

        _received.Append(buffer.AsSpan(0, read));
        return true;
    }

    /// <summary>Takes whole unmasked server frames off what was received; text payloads become SignalR records.</summary>
    private void ParseFrames()
    {
        while (_received.Count >= 2)
        {
            var buffered = _received.Span;
            if (!WebSocketFrames.TryReadHeader(buffered, out var header, out var length, out var masked))
            {
                return;
            }

            Assert.False(masked, "the server masked a frame (RFC 6455 section 5.1 forbids it)");
            var opcode = buffered[0] & 0x0f;
            var fin = (buffered[0] & 0x80) != 0;
            if (opcode == 0x8)
            {
                ServerClosed = true;
                _received.Clear();
                return;
            }

            if (opcode is 0x1 or 0x2 or 0x0)
            {
                if (opcode != 0)
                {
                    _messageOpcode = opcode; // a continuation frame carries on its message's kind
                }

                _message.Append(buffered.Slice(header, length));
                if (fin)
                {
                    SplitRecords();
                }
            }

            _received.Consume(header + length);
        }
    }

    private void SplitRecords()
    {
        if (_awaitingHandshake)
        {
            // The handshake answer is JSON ending in 0x1E whatever the protocol (in a binary frame for MessagePack).
            var answerEnd = _message.Span.IndexOf(RecordSeparator);
            if (answerEnd < 0)
            {
                return;
            }

            _records.Enqueue(_message.Span[..answerEnd].ToArray());
            _message.Consume(answerEnd + 1);
            _awaitingHandshake = false;
        }

        if (_messagePack && _messageOpcode == 0x2)
        {
            while (MessagePackRecords.TryTake(_message.Span, out var record, out var consumed))
            {
                _records.Enqueue(record);
                NoteMessagePackClose(record);
                _message.Consume(consumed);
            }

            return;
        }

        int end;
        while ((end = _message.Span.IndexOf(RecordSeparator)) >= 0)
        {
            var record = _message.Span[..end].ToArray();
            _records.Enqueue(record);
            NoteClose(record);
            _message.Consume(end + 1);
        }
    }

    private void NoteClose(byte[] record)
    {
        // The first close message is the one a client acts on (SignalR's own, with no error, may follow ours).
        if (_closeSeen || !record.AsSpan().StartsWith("{\"type\":7"u8))
        {
            return;
        }

        _closeSeen = true;
        using var doc = JsonDocument.Parse(record);
        CloseError = doc.RootElement.TryGetProperty("error", out var error) ? error.GetString() : null;
    }

    private void NoteMessagePackClose(byte[] record)
    {
        if (_closeSeen || MessagePackRecords.TypeOf(record) != 7)
        {
            return;
        }

        _closeSeen = true;
        CloseError = MessagePackRecords.CloseError(record);
    }

    /// <summary>A growable byte buffer read from the front.</summary>
    private sealed class Bytes
    {
        private byte[] _bytes = new byte[16 * 1024];
        private int _start;
        private int _end;

        public int Count => _end - _start;

        public ReadOnlySpan<byte> Span => _bytes.AsSpan(_start, _end - _start);

        public void Append(ReadOnlySpan<byte> bytes)
        {
            if (_end + bytes.Length > _bytes.Length)
            {
                var kept = Count;
                var target = kept + bytes.Length > _bytes.Length ? new byte[Math.Max(_bytes.Length * 2, kept + bytes.Length)] : _bytes;
                _bytes.AsSpan(_start, kept).CopyTo(target);
                _bytes = target;
                _start = 0;
                _end = kept;
            }

            bytes.CopyTo(_bytes.AsSpan(_end));
            _end += bytes.Length;
        }

        public void Consume(int count)
        {
            _start += count;
            if (_start == _end)
            {
                _start = _end = 0;
            }
        }

        public void Clear() => _start = _end = 0;
    }
}
