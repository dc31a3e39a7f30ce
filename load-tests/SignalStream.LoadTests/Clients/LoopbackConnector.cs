using System.Net;
using System.Net.Sockets;

namespace SignalStream.LoadTests.Clients;

/// <summary>
/// Opens client connections from several loopback source addresses (127.0.0.2, 127.0.0.3, …) so that more than the
/// ~28k ephemeral ports of one source/destination pair are available, and caps the connects in flight below the
/// server's listen backlog (Kestrel 512, somaxconn 4096 here).
/// </summary>
internal sealed class LoopbackConnector : IDisposable
{
    private readonly IPAddress[] _sources;
    private readonly int _slowReceiveBufferBytes;
    private readonly SemaphoreSlim _inFlight;

    public LoopbackConnector(int sourceAddresses, int connectsInFlight, int slowReceiveBufferBytes)
    {
        _sources = Enumerable.Range(0, sourceAddresses).Select(i => new IPAddress(new byte[] { 127, 0, 0, (byte)(2 + i) })).ToArray();
        _slowReceiveBufferBytes = slowReceiveBufferBytes;
        _inFlight = new SemaphoreSlim(connectsInFlight, connectsInFlight);
    }

    /// <summary>
    /// A TCP connection to <paramref name="server"/> for a client: spread over the source addresses; slow clients get a
    /// small receive buffer so that the server sees their backlog early instead of the kernel absorbing megabytes.
    /// </summary>
    public async Task<Socket> ConnectAsync(int clientId, bool slow, Uri server, CancellationToken cancellationToken)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            if (slow)
            {
                socket.ReceiveBufferSize = _slowReceiveBufferBytes;
            }

            socket.Bind(new IPEndPoint(_sources[clientId % _sources.Length], 0));
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(TimeSpan.FromSeconds(15));
            await socket.ConnectAsync(new IPEndPoint(IPAddress.Parse(server.Host), server.Port), timeout.Token);
            return socket;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    public async Task<T> ThrottleAsync<T>(Func<Task<T>> connect, CancellationToken cancellationToken)
    {
        await _inFlight.WaitAsync(cancellationToken);
        try
        {
            return await connect();
        }
        finally
        {
            _inFlight.Release();
        }
    }

    public void Dispose() => _inFlight.Dispose();
}
