using System.Buffers;
using System.Collections.Concurrent;
using System.Diagnostics.CodeAnalysis;
using System.Net.Sockets;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using System.Threading.Channels;

namespace SignalStream.Testing;

/// <summary>
/// A lean SignalR client of a node's hub, as a trading app is, written without the official client's assumptions: a
/// WebSocket straight to <c>/hubs/signals</c> (skipping negotiate), the JSON hub protocol (records end with 0x1E), and a
/// ping every few seconds so the server's 30 s client timeout never fires. When the node dies under it (a crash test's
/// SIGKILL) the socket just ends: <see cref="Closed"/> completes and what was received stays readable.
/// </summary>
public sealed class HubTestClient : IAsyncDisposable
{
    private const byte RecordSeparator = 0x1e;
    private static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(20);

    private readonly TimeSpan _timeout;
    private readonly Action<string, JsonElement>? _onEvent;

    private readonly ClientWebSocket _socket;
    private readonly ConcurrentDictionary<string, TaskCompletionSource<JsonElement>> _pending = new();
    private readonly Channel<(string Target, JsonElement Argument)> _events = Channel.CreateUnbounded<(string, JsonElement)>();
    private readonly CancellationTokenSource _stop = new();
    // Only awaited (no AvailableWaitHandle): nothing to release, and a test's send may still race the dispose.
    [SuppressMessage("Usage", "CA2213:Disposable fields should be disposed", Justification = "See the comment.")]
    private readonly SemaphoreSlim _sendLock = new(1, 1);
    [SuppressMessage("Usage", "CA2213:Disposable fields should be disposed", Justification = "See the comment.")]
    private readonly SemaphoreSlim _readGate = new(1, 1);
    private readonly TaskCompletionSource<(string? Error, bool AllowReconnect)> _closed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private Task _receive = Task.CompletedTask;
    private Task _ping = Task.CompletedTask;
    private int _nextId;

    private Socket? _tcp;

    private HubTestClient(ClientWebSocket socket, TimeSpan timeout, Action<string, JsonElement>? onEvent)
    {
        _socket = socket;
        _timeout = timeout;
        _onEvent = onEvent;
    }

    /// <summary>Completes when the server closes the connection: its close message's error and allowReconnect, if any.</summary>
    public Task<(string? Error, bool AllowReconnect)> Closed => _closed.Task;

    /// <summary>Connects and completes the handshake.</summary>
    /// <param name="receiveBufferBytes">A small kernel receive buffer makes a client that does not read back up fast.</param>
    /// <param name="read">False: the client never reads after the handshake (the slowest consumer there is).</param>
    /// <param name="onEvent">Called on the receive loop for every server event (target, first argument) the moment it
    /// is parsed, before <see cref="NextEventAsync"/> sees it: for a test that must act on an exact event.</param>
    /// <param name="timeout">How long the connect, each invocation and each wait for an event may take (20 s unless set).</param>
    public static async Task<HubTestClient> ConnectAsync(Uri baseAddress, string? accessToken = null, int? receiveBufferBytes = null, bool read = true,
        Action<string, JsonElement>? onEvent = null, TimeSpan? timeout = null)
    {
        var uri = new UriBuilder(baseAddress) { Scheme = "ws", Path = "/hubs/signals" };
        if (accessToken is not null)
        {
            uri.Query = "access_token=" + Uri.EscapeDataString(accessToken);
        }

        var wait = timeout ?? DefaultTimeout;
        using var cts = new CancellationTokenSource(wait);
        var socket = new ClientWebSocket();
        Socket? tcp = null;
        try
        {
            if (receiveBufferBytes is int bytes)
            {
                // A tiny kernel receive buffer makes a non-reading client back up quickly (loopback buffers are megabytes).
                using var handler = new SocketsHttpHandler
                {
                    ConnectCallback = async (context, ct) =>
                    {
                        var s = tcp = new Socket(SocketType.Stream, ProtocolType.Tcp) { ReceiveBufferSize = bytes, NoDelay = true };
                        await s.ConnectAsync(context.DnsEndPoint, ct);
                        return new NetworkStream(s, ownsSocket: true);
                    },
                };
                using var invoker = new HttpMessageInvoker(handler, disposeHandler: false);
                await socket.ConnectAsync(uri.Uri, invoker, cts.Token);
            }
            else
            {
                await socket.ConnectAsync(uri.Uri, cts.Token);
            }
        }
        catch
        {
            socket.Dispose(); // a refused connect (a test's bad token) leaves no socket behind
            throw;
        }

#pragma warning disable CA2000 // disposed by the catch below when the handshake fails, returned otherwise (the analysis loses the catch)
        var client = new HubTestClient(socket, wait, onEvent) { _tcp = tcp };
#pragma warning restore CA2000
        try
        {
            await client.HandshakeAsync(cts.Token);
        }
        catch
        {
            await client.DisposeAsync();
            throw;
        }

        if (read)
        {
            client._receive = Task.Run(client.ReceiveLoopAsync);
        }

        client._ping = Task.Run(client.PingLoopAsync);
        return client;
    }

    private async Task HandshakeAsync(CancellationToken cancellationToken)
    {
        await SendRawAsync("{\"protocol\":\"json\",\"version\":1}"u8.ToArray(), cancellationToken);
        var handshake = await ReceiveRecordAsync(new ArrayBufferWriter<byte>(), new byte[4096], cancellationToken);
        using var doc = JsonDocument.Parse(handshake ?? throw new InvalidOperationException("connection closed during handshake"));
        if (doc.RootElement.TryGetProperty("error", out var error))
        {
            throw new InvalidOperationException("handshake failed: " + error.GetString());
        }
    }

    /// <summary>Invokes a hub method and returns its result; a server error becomes <see cref="HubErrorException"/>.</summary>
    public async Task<JsonElement> InvokeAsync(string method, params object?[] arguments)
    {
        var id = Interlocked.Increment(ref _nextId).ToString(System.Globalization.CultureInfo.InvariantCulture);
        var tcs = new TaskCompletionSource<JsonElement>(TaskCreationOptions.RunContinuationsAsynchronously);
        _pending[id] = tcs;
        await SendRawAsync(JsonSerializer.SerializeToUtf8Bytes(new { type = 1, invocationId = id, target = method, arguments }), _stop.Token);
        return await tcs.Task.WaitAsync(_timeout);
    }

    /// <summary>Sends an invocation without waiting for (or expecting) a completion.</summary>
    public Task SendAsync(string method, params object?[] arguments) =>
        SendRawAsync(JsonSerializer.SerializeToUtf8Bytes(new { type = 1, target = method, arguments }), _stop.Token);

    public Task SendRawAsync(byte[] json, CancellationToken cancellationToken) => SendRecordAsync(json, cancellationToken);

    /// <summary>The next server event (for example <c>signal</c>), in arrival order.</summary>
    public async Task<(string Target, JsonElement Argument)> NextEventAsync(TimeSpan? timeout = null) =>
        await _events.Reader.ReadAsync().AsTask().WaitAsync(timeout ?? _timeout);

    /// <summary>Reads events until <paramref name="count"/> with <paramref name="target"/> arrived; returns those.</summary>
    public async Task<List<JsonElement>> NextEventsAsync(string target, int count, TimeSpan? timeout = null)
    {
        var result = new List<JsonElement>(count);
        while (result.Count < count)
        {
            var (t, argument) = await NextEventAsync(timeout);
            if (t == target)
            {
                result.Add(argument);
            }
        }

        return result;
    }

    public bool TryNextEvent(out (string Target, JsonElement Argument) item) => _events.Reader.TryRead(out item);

    private async Task SendRecordAsync(byte[] json, CancellationToken cancellationToken)
    {
        var record = new byte[json.Length + 1];
        json.CopyTo(record, 0);
        record[^1] = RecordSeparator;
        await _sendLock.WaitAsync(cancellationToken);
        try
        {
            await _socket.SendAsync(record, WebSocketMessageType.Text, true, cancellationToken);
        }
        finally
        {
            _sendLock.Release();
        }
    }

    private readonly Queue<byte[]> _records = new();

    private async Task<byte[]?> ReceiveRecordAsync(ArrayBufferWriter<byte> pending, byte[] buffer, CancellationToken cancellationToken)
    {
        while (_records.Count == 0)
        {
            var result = await _socket.ReceiveAsync(buffer, cancellationToken);
            if (result.MessageType == WebSocketMessageType.Close)
            {
                return null;
            }

            pending.Write(buffer.AsSpan(0, result.Count));
            var span = pending.WrittenSpan;
            int index;
            var consumed = 0;
            while ((index = span[consumed..].IndexOf(RecordSeparator)) >= 0)
            {
                _records.Enqueue(span.Slice(consumed, index).ToArray());
                consumed += index + 1;
            }

            var rest = span[consumed..].ToArray();
            pending.ResetWrittenCount();
            pending.Write(rest);
        }

        return _records.Dequeue();
    }

    private async Task ReceiveLoopAsync()
    {
        var pending = new ArrayBufferWriter<byte>();
        var buffer = new byte[16 * 1024];
        try
        {
            while (true)
            {
                await _readGate.WaitAsync(_stop.Token);
                _readGate.Release();
                var record = await ReceiveRecordAsync(pending, buffer, _stop.Token);
                if (record is null)
                {
                    // Answer the server's close frame, as browsers and the official clients do, so its transport ends
                    // now rather than after its close timeout.
                    await _socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, null, _stop.Token);
                    break;
                }

                using var doc = JsonDocument.Parse(record);
                var root = doc.RootElement;
                switch (root.GetProperty("type").GetInt32())
                {
                    case 1:
                        var target = root.GetProperty("target").GetString()!;
                        var argument = root.GetProperty("arguments")[0].Clone();
                        _onEvent?.Invoke(target, argument);
                        _events.Writer.TryWrite((target, argument));
                        break;
                    case 3:
                        if (_pending.TryRemove(root.GetProperty("invocationId").GetString()!, out var tcs))
                        {
                            if (root.TryGetProperty("error", out var error))
                            {
                                tcs.TrySetException(new HubErrorException(error.GetString()!));
                            }
                            else
                            {
                                tcs.TrySetResult(root.TryGetProperty("result", out var r) ? r.Clone() : default);
                            }
                        }

                        break;
                    case 7:
                        _closed.TrySetResult((
                            root.TryGetProperty("error", out var e) ? e.GetString() : null,
                            root.TryGetProperty("allowReconnect", out var a) && a.GetBoolean()));
                        break;
                }
            }
        }
        catch (Exception ex) when (ex is WebSocketException or OperationCanceledException or IOException)
        {
            // The connection ended; Closed reports it below.
        }
        finally
        {
            _closed.TrySetResult((null, false));
            _events.Writer.TryComplete();
            foreach (var tcs in _pending.Values)
            {
                tcs.TrySetException(new HubErrorException("connection closed"));
            }
        }
    }

    private async Task PingLoopAsync()
    {
        try
        {
            while (!_stop.IsCancellationRequested)
            {
                await Task.Delay(TimeSpan.FromSeconds(5), _stop.Token);
                await SendRecordAsync("{\"type\":6}"u8.ToArray(), _stop.Token);
            }
        }
        catch (Exception ex) when (ex is WebSocketException or OperationCanceledException or ObjectDisposedException)
        {
            // Stopped or disconnected.
        }
    }

    /// <summary>Stops reading from the socket (after the read in progress): the client becomes a slow consumer.</summary>
    public Task PauseReadingAsync() => _readGate.WaitAsync(_timeout);

    /// <summary>
    /// Reads again after <see cref="PauseReadingAsync"/>, at full speed: takes in what the server still sends, its close
    /// included. A tiny receive buffer is given back its default size first, or the kernel would trickle the backlog to
    /// it (on loopback a window far below one segment moves a few KB a second).
    /// </summary>
    public void ResumeReading()
    {
        if (_tcp is { } tcp)
        {
            tcp.ReceiveBufferSize = 4 << 20;
        }

        _readGate.Release();
    }

    /// <summary>True once the socket is no longer open (the server closed or aborted it).</summary>
    public bool IsClosed => _socket.State is not WebSocketState.Open;

    /// <summary>For a non-reading client: waits until the server has dropped the TCP connection, probing with sends.</summary>
    public async Task WaitUntilDroppedAsync(TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        while (true)
        {
            try
            {
                await SendRecordAsync("{\"type\":6}"u8.ToArray(), cts.Token);
            }
            catch (Exception ex) when (ex is WebSocketException or IOException or ObjectDisposedException)
            {
                return;
            }

            if (_socket.State is not WebSocketState.Open)
            {
                return;
            }

            await Task.Delay(50, cts.Token);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        try
        {
            if (_socket.State == WebSocketState.Open)
            {
                using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(2));
                await _socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, null, cts.Token);
            }
        }
        catch (Exception ex) when (ex is WebSocketException or OperationCanceledException or IOException)
        {
            // Already gone.
        }

        _socket.Abort();
        await Task.WhenAll(_receive, _ping).WaitAsync(TimeSpan.FromSeconds(5)).ContinueWith(_ => { }, TaskScheduler.Default);
        _socket.Dispose();
        _stop.Dispose();
    }
}

/// <summary>A hub invocation's error, as the server sent it.</summary>
public sealed class HubErrorException(string message) : Exception(message);
