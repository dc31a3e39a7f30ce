using System.Buffers;
using System.Collections.Concurrent;
using System.Diagnostics.CodeAnalysis;
using System.Net.WebSockets;
using System.Text.Json;

namespace SignalStream.EventStore.Tests.Crash;

/// <summary>
/// A client of a real node's hub, as a trading app is: one WebSocket to <c>/hubs/signals</c>, the JSON hub protocol
/// (records end with 0x1E), <c>Subscribe</c> per symbol, and every <c>signal</c> it is sent recorded as (symbol, seq, id).
/// It pings every few seconds so the server's 30 s client timeout never fires. When the node dies the socket just ends.
/// </summary>
internal sealed class SignalSubscriber : IAsyncDisposable
{
    private const byte RecordSeparator = 0x1e;
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    private readonly ClientWebSocket _socket = new();
    private readonly ConcurrentDictionary<string, TaskCompletionSource<JsonElement>> _pending = new();
    private readonly ConcurrentQueue<Seen> _signals = new();
    private readonly CancellationTokenSource _stop = new();
    [SuppressMessage("Usage", "CA2213:Disposable fields should be disposed", Justification = "Only awaited (no AvailableWaitHandle): nothing to release, and a send may still race the dispose.")]
    private readonly SemaphoreSlim _sendLock = new(1, 1);
    private Task _receive = Task.CompletedTask;
    private Task _ping = Task.CompletedTask;
    private int _nextId;

    /// <summary>Called on the receive loop for every signal, the moment it is parsed.</summary>
    public Action<Seen>? OnSignal { get; set; }

    /// <summary>Every signal received, in arrival order (live and those a Subscribe answered with).</summary>
    public IReadOnlyCollection<Seen> Signals => _signals;

    public static async Task<SignalSubscriber> ConnectAsync(Uri node, Action<Seen>? onSignal = null)
    {
        var client = new SignalSubscriber { OnSignal = onSignal };
        try
        {
            await client.HandshakeAsync(node);
        }
        catch
        {
            await client.DisposeAsync(); // a failed connect leaves no socket behind
            throw;
        }

        client._receive = Task.Run(client.ReceiveLoopAsync);
        client._ping = Task.Run(client.PingLoopAsync);
        return client;
    }

    private async Task HandshakeAsync(Uri node)
    {
        using var cts = new CancellationTokenSource(Timeout);
        await _socket.ConnectAsync(new UriBuilder(node) { Scheme = "ws", Path = "/hubs/signals" }.Uri, cts.Token);
        await SendAsync("{\"protocol\":\"json\",\"version\":1}"u8.ToArray(), cts.Token);
    }

    /// <summary>Subscribes to a symbol (from <paramref name="afterSeq"/> when set); the reply's signals are recorded too.</summary>
    public async Task<JsonElement> SubscribeAsync(string symbol, long? afterSeq = null)
    {
        var id = Interlocked.Increment(ref _nextId).ToString(System.Globalization.CultureInfo.InvariantCulture);
        var completion = new TaskCompletionSource<JsonElement>(TaskCreationOptions.RunContinuationsAsynchronously);
        _pending[id] = completion;
        object request = afterSeq is { } after ? new { symbol, afterSeq = after } : new { symbol };
        await SendAsync(JsonSerializer.SerializeToUtf8Bytes(new { type = 1, invocationId = id, target = "Subscribe", arguments = new[] { request } }), _stop.Token);
        var reply = await completion.Task.WaitAsync(Timeout);
        foreach (var signal in reply.GetProperty("signals").EnumerateArray())
        {
            Record(signal);
        }

        return reply;
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        try
        {
            await Task.WhenAll(_receive, _ping).WaitAsync(Timeout);
        }
        catch (Exception ex) when (ex is OperationCanceledException or WebSocketException)
        {
            // The node was killed under the socket, or the loops were cancelled: both are how a crash test ends.
        }

        _socket.Dispose();
        _stop.Dispose();
    }

    private void Record(JsonElement signal)
    {
        var seen = new Seen(signal.GetProperty("symbol").GetString()!, signal.GetProperty("seq").GetInt64(), signal.GetProperty("id").GetString()!);
        _signals.Enqueue(seen);
        OnSignal?.Invoke(seen);
    }

    private async Task SendAsync(byte[] json, CancellationToken cancellationToken)
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

    private async Task ReceiveLoopAsync()
    {
        var pending = new ArrayBufferWriter<byte>();
        var buffer = new byte[64 * 1024];
        try
        {
            while (true)
            {
                var result = await _socket.ReceiveAsync(buffer, _stop.Token);
                if (result.MessageType == WebSocketMessageType.Close)
                {
                    return;
                }

                pending.Write(buffer.AsSpan(0, result.Count));
                var consumed = 0;
                int index;
                while ((index = pending.WrittenSpan[consumed..].IndexOf(RecordSeparator)) >= 0)
                {
                    Dispatch(pending.WrittenSpan.Slice(consumed, index));
                    consumed += index + 1;
                }

                var rest = pending.WrittenSpan[consumed..].ToArray();
                pending.ResetWrittenCount();
                pending.Write(rest);
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or WebSocketException)
        {
            // Stopped, or the node went away (SIGKILL): what was received is the record.
        }
    }

    private void Dispatch(ReadOnlySpan<byte> record)
    {
        var reader = new Utf8JsonReader(record);
        using var doc = JsonDocument.ParseValue(ref reader);
        var root = doc.RootElement;
        if (!root.TryGetProperty("type", out var type))
        {
            return; // the handshake reply, {}
        }

        switch (type.GetInt32())
        {
            case 1 when root.GetProperty("target").GetString() == "signal":
                Record(root.GetProperty("arguments")[0]);
                break;
            case 3 when _pending.TryRemove(root.GetProperty("invocationId").GetString()!, out var completion):
                if (root.TryGetProperty("error", out var error))
                {
                    completion.TrySetException(new InvalidOperationException("hub error: " + error.GetString()));
                }
                else
                {
                    completion.TrySetResult(root.GetProperty("result").Clone());
                }

                break;
        }
    }

    private async Task PingLoopAsync()
    {
        try
        {
            while (true)
            {
                await Task.Delay(TimeSpan.FromSeconds(5), _stop.Token);
                await SendAsync("{\"type\":6}"u8.ToArray(), _stop.Token);
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or WebSocketException or ObjectDisposedException)
        {
            // Stopped, or the socket is gone with its node.
        }
    }

    /// <summary>One signal as a client saw it.</summary>
    internal readonly record struct Seen(string Symbol, long Seq, string Id);
}
