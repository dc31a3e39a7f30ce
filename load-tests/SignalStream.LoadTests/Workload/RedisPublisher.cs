using System.Diagnostics.CodeAnalysis;
using System.Net.Sockets;
using System.Text;

namespace SignalStream.LoadTests.Workload;

/// <summary>
/// Publishes signal envelopes to Redis over a raw RESP connection (pipelined <c>PUBLISH</c>, replies drained in the
/// background), playing the engine node: one channel per symbol, <c>{prefix}:{SYMBOL}</c>, seq contiguous per symbol.
/// </summary>
/// <remarks>
/// When Redis is unreachable (the outage scenario) a publish that fails is kept in a bounded outbox and sent first
/// after the reconnect, in order — standing in for the engine's store, from which hub nodes repair holes (the harness
/// has no store the nodes can read). What Redis swallows without an error (in flight at the kill, or published before
/// a node re-subscribed) is still lost and shows up as gaps.
/// </remarks>
internal sealed class RedisPublisher : IAsyncDisposable
{
    private readonly string _host;
    private readonly int _port;
    private readonly string _prefix;
    private TcpClient? _client;

    // Over the client's NetworkStream: closing the client (Reset) closes it; its own Dispose would only flush into a dead socket.
    [SuppressMessage("Usage", "CA2213:Disposable fields should be disposed", Justification = "Closed with _client (see the comment).")]
    private Stream? _stream;
    private Task _drain = Task.CompletedTask;

    public RedisPublisher(string endpoint, string prefix)
    {
        var colon = endpoint.LastIndexOf(':');
        _host = endpoint[..colon];
        _port = int.Parse(endpoint[(colon + 1)..]);
        _prefix = prefix;
    }

    public long Published { get; private set; }

    public long Lost { get; private set; }

    /// <summary>Publishes that failed and were sent again after the reconnect.</summary>
    public long Resent { get; private set; }

    private readonly Queue<(string Symbol, byte[] Payload)> _outbox = new();
    private const int OutboxLimit = 100_000;

    /// <summary>Publishes one envelope; false (and counted lost) when Redis is unreachable right now.</summary>
    public async ValueTask<bool> PublishAsync(string symbol, byte[] payload, CancellationToken cancellationToken)
    {
        if (_outbox.Count > 0 || _stream is null)
        {
            if (!await TrySendOutboxAsync(cancellationToken))
            {
                Enqueue(symbol, payload);
                return false;
            }
        }

        if (await TryWriteAsync(symbol, payload, cancellationToken))
        {
            Published++;
            return true;
        }

        Enqueue(symbol, payload);
        return false;
    }

    private void Enqueue(string symbol, byte[] payload)
    {
        if (_outbox.Count < OutboxLimit)
        {
            _outbox.Enqueue((symbol, payload));
        }
        else
        {
            Lost++;
        }
    }

    private async ValueTask<bool> TrySendOutboxAsync(CancellationToken cancellationToken)
    {
        while (_outbox.TryPeek(out var item))
        {
            if (!await TryWriteAsync(item.Symbol, item.Payload, cancellationToken))
            {
                return false;
            }

            _outbox.Dequeue();
            Published++;
            Resent++;
        }

        return true;
    }

    private async ValueTask<bool> TryWriteAsync(string symbol, byte[] payload, CancellationToken cancellationToken)
    {
        try
        {
            var stream = _stream ?? await ConnectAsync(cancellationToken);
            var channel = Encoding.ASCII.GetBytes(_prefix + ":" + symbol);
            var header = Encoding.ASCII.GetBytes($"*3\r\n$7\r\nPUBLISH\r\n${channel.Length}\r\n");
            await stream.WriteAsync(header, cancellationToken);
            await stream.WriteAsync(channel, cancellationToken);
            await stream.WriteAsync(Encoding.ASCII.GetBytes($"\r\n${payload.Length}\r\n"), cancellationToken);
            await stream.WriteAsync(payload, cancellationToken);
            await stream.WriteAsync("\r\n"u8.ToArray(), cancellationToken);
            return true;
        }
        catch (Exception ex) when (ex is IOException or SocketException or ObjectDisposedException)
        {
            Reset();
            return false;
        }
    }

    public async ValueTask FlushAsync(CancellationToken cancellationToken)
    {
        if (_outbox.Count > 0)
        {
            await TrySendOutboxAsync(cancellationToken);
        }

        try
        {
            if (_stream is { } stream)
            {
                await stream.FlushAsync(cancellationToken);
            }
        }
        catch (Exception ex) when (ex is IOException or SocketException or ObjectDisposedException)
        {
            Reset();
        }
    }

    private async Task<Stream> ConnectAsync(CancellationToken cancellationToken)
    {
        var client = new TcpClient { NoDelay = true };
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(TimeSpan.FromSeconds(1));
        try
        {
            await client.ConnectAsync(_host, _port, timeout.Token);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            client.Dispose();
            throw new IOException("Redis connect timed out");
        }
        catch
        {
            client.Dispose(); // refused (Redis down): the next publish tries a new one
            throw;
        }

        var network = client.GetStream();
        _client = client;
        _stream = new BufferedStream(network, 64 * 1024);
        _drain = DrainAsync(network);
        return _stream;
    }

    /// <summary>Reads and discards the integer replies so Redis never blocks on its output buffer.</summary>
    private static async Task DrainAsync(NetworkStream network)
    {
        var buffer = new byte[16 * 1024];
        try
        {
            while (await network.ReadAsync(buffer) > 0)
            {
            }
        }
        catch (Exception ex) when (ex is IOException or ObjectDisposedException or SocketException)
        {
            // The connection is gone; the next publish reconnects.
        }
    }

    private void Reset()
    {
        _client?.Dispose();
        _client = null;
        _stream = null;
    }

    public async ValueTask DisposeAsync()
    {
        await FlushAsync(CancellationToken.None);
        Reset();
        await _drain.WaitAsync(TimeSpan.FromSeconds(2)).ContinueWith(static _ => { }, TaskScheduler.Default);
    }
}
