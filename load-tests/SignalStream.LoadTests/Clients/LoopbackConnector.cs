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
    private readonly HttpMessageInvoker[] _invokers;
    private readonly HttpMessageInvoker[] _slowInvokers;
    private readonly SemaphoreSlim _inFlight;

    public LoopbackConnector(int sourceAddresses, int connectsInFlight, int slowReceiveBufferBytes)
    {
        _invokers = new HttpMessageInvoker[sourceAddresses];
        _slowInvokers = new HttpMessageInvoker[sourceAddresses];
        for (var i = 0; i < sourceAddresses; i++)
        {
            var source = new IPAddress(new byte[] { 127, 0, 0, (byte)(2 + i) });
            _invokers[i] = new HttpMessageInvoker(Handler(source, 0));
            _slowInvokers[i] = new HttpMessageInvoker(Handler(source, slowReceiveBufferBytes));
        }

        _inFlight = new SemaphoreSlim(connectsInFlight, connectsInFlight);
    }

    /// <summary>The invoker for a client: spread over the source addresses; slow clients get a small receive buffer so
    /// that the server sees their backlog early instead of the kernel absorbing megabytes.</summary>
    public HttpMessageInvoker For(int clientId, bool slow) => (slow ? _slowInvokers : _invokers)[clientId % _invokers.Length];

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

    private static SocketsHttpHandler Handler(IPAddress source, int receiveBuffer) => new()
    {
        UseProxy = false,
        ConnectTimeout = TimeSpan.FromSeconds(15),
        ConnectCallback = async (context, cancellationToken) =>
        {
            var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            try
            {
                if (receiveBuffer > 0)
                {
                    socket.ReceiveBufferSize = receiveBuffer;
                }

                socket.Bind(new IPEndPoint(source, 0));
                await socket.ConnectAsync(context.DnsEndPoint, cancellationToken);
                return new NetworkStream(socket, ownsSocket: true);
            }
            catch
            {
                socket.Dispose();
                throw;
            }
        },
    };

    public void Dispose()
    {
        foreach (var invoker in _invokers.Concat(_slowInvokers))
        {
            invoker.Dispose();
        }

        _inFlight.Dispose();
    }
}
