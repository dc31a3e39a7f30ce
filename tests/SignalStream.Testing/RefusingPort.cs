using System.Net;
using System.Net.Sockets;

namespace SignalStream.Testing;

/// <summary>
/// A port on 127.0.0.1 held bound but not listening, for a receiver that is down: every connection to it is refused,
/// and no other server (another test's Kestrel binding port 0, say) can take it while it is held. A port from
/// <see cref="LoopbackPort.Free"/> promises neither: once given back, any server may bind it and answer in the down
/// receiver's place. <see cref="Release"/> it just before the receiver comes up on it.
/// </summary>
public sealed class RefusingPort : IDisposable
{
    private readonly Socket _socket;

    public RefusingPort()
    {
        _socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        _socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));

        // .NET sets SO_REUSEADDR before every bind on Unix, and Linux lets a second SO_REUSEADDR socket bind (and listen
        // on) a port whose holder also has it but is not listening. Cleared after the bind, the port is ours alone.
        _socket.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, false);
        Port = ((IPEndPoint)_socket.LocalEndPoint!).Port;
    }

    public int Port { get; }

    /// <summary>Gives the port back, for the receiver about to bind it.</summary>
    public void Release() => _socket.Dispose();

    public void Dispose() => _socket.Dispose();
}
