using System.Net;
using System.Net.Sockets;

namespace SignalStream.Hub.Tests.Infrastructure;

/// <summary>
/// A TCP proxy on loopback between a client and a node, so a test can cut the network (every open connection reset,
/// new ones refused while paused) and point the client's address at another node, as a load balancer would. It can
/// also hold traffic (<see cref="Hold"/>): a peer that has become unreachable, where bytes go out and nothing comes back.
/// </summary>
internal sealed class LoopbackProxy : IAsyncDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly CancellationTokenSource _stop = new();
    private readonly Lock _gate = new();
    private readonly List<(Socket Client, Socket Upstream)> _open = [];
    private readonly Task _accepting;
    private volatile bool _paused;
    private TaskCompletionSource _requestsFlow = Open();
    private TaskCompletionSource _responsesFlow = Open();
    private TaskCompletionSource _held = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public LoopbackProxy(Uri target)
    {
        Target = target;
        _listener.Start();
        BaseAddress = new Uri($"http://127.0.0.1:{((IPEndPoint)_listener.LocalEndpoint).Port}/");
        _accepting = AcceptLoopAsync();
    }

    public Uri BaseAddress { get; }

    /// <summary>Where new connections go.</summary>
    public Uri Target { get; set; }

    public int OpenConnections
    {
        get
        {
            lock (_gate)
            {
                return _open.Count;
            }
        }
    }

    /// <summary>Resets every open connection and refuses new ones until <see cref="Resume"/>.</summary>
    public void Cut()
    {
        _paused = true;
        (Socket, Socket)[] open;
        lock (_gate)
        {
            open = [.. _open];
            _open.Clear();
        }

        foreach (var (client, upstream) in open)
        {
            Reset(client);
            upstream.Close();
        }
    }

    public void Resume() => _paused = false;

    /// <summary>
    /// From now on, bytes read in the held directions (client to target: requests; target to client: responses) wait here
    /// until <see cref="Release"/>, on open and new connections alike; connections stay open, as with a black-holed route.
    /// </summary>
    public void Hold(bool requests = true, bool responses = true)
    {
        lock (_gate)
        {
            _held = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            if (requests && _requestsFlow.Task.IsCompleted)
            {
                _requestsFlow = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            }

            if (responses && _responsesFlow.Task.IsCompleted)
            {
                _responsesFlow = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            }
        }
    }

    /// <summary>Completes once some bytes wait because of the last <see cref="Hold"/>.</summary>
    public Task TrafficHeld
    {
        get
        {
            lock (_gate)
            {
                return _held.Task;
            }
        }
    }

    /// <summary>Lets held bytes through, in order, and stops holding.</summary>
    public void Release()
    {
        lock (_gate)
        {
            _requestsFlow.TrySetResult();
            _responsesFlow.TrySetResult();
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Dispose(); // stops it
        Cut();
        try
        {
            await _accepting.WaitAsync(TimeSpan.FromSeconds(10));
        }
        catch (Exception ex) when (ex is OperationCanceledException or SocketException or ObjectDisposedException)
        {
            // Stopping the listener ends the accept loop with one of these.
        }

        _stop.Dispose();
    }

    private async Task AcceptLoopAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            var client = await _listener.AcceptSocketAsync(_stop.Token);
            if (_paused)
            {
                Reset(client);
                continue;
            }

            _ = ServeAsync(client);
        }
    }

    private async Task ServeAsync(Socket client)
    {
        var upstream = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        client.NoDelay = true;
        try
        {
            await upstream.ConnectAsync(Target.Host, Target.Port, _stop.Token);
        }
        catch (Exception ex) when (ex is SocketException or OperationCanceledException)
        {
            client.Close();
            upstream.Dispose();
            return;
        }

        lock (_gate)
        {
            _open.Add((client, upstream));
        }

        await Task.WhenAny(PumpAsync(client, upstream, requests: true), PumpAsync(upstream, client, requests: false));
        lock (_gate)
        {
            _open.Remove((client, upstream));
        }

        client.Close();
        upstream.Close();
    }

    private async Task PumpAsync(Socket from, Socket to, bool requests)
    {
        var buffer = new byte[16 * 1024];
        try
        {
            while (true)
            {
                var read = await from.ReceiveAsync(buffer, SocketFlags.None, _stop.Token);
                if (read == 0)
                {
                    return;
                }

                Task flow;
                lock (_gate)
                {
                    flow = (requests ? _requestsFlow : _responsesFlow).Task;
                    if (!flow.IsCompleted)
                    {
                        _held.TrySetResult();
                    }
                }

                await flow.WaitAsync(_stop.Token);

                await to.SendAsync(buffer.AsMemory(0, read), SocketFlags.None, _stop.Token);
            }
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException or OperationCanceledException)
        {
            // One side went away (or the test cut it): the other side is closed by the caller.
        }
    }

    private static TaskCompletionSource Open()
    {
        var open = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        open.SetResult();
        return open;
    }

    /// <summary>Closes with a reset, as a dropped network looks to both ends.</summary>
    private static void Reset(Socket socket)
    {
        try
        {
            socket.LingerState = new LingerOption(true, 0);
        }
        catch (ObjectDisposedException)
        {
            return; // its pump already closed it
        }

        socket.Close();
    }
}
