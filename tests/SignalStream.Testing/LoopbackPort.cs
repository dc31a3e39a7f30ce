using System.Net;
using System.Net.Sockets;

namespace SignalStream.Testing;

/// <summary>Free TCP ports on 127.0.0.1, for servers a test or the load harness starts as child processes.</summary>
public static class LoopbackPort
{
    /// <summary>A port the kernel just gave out and took back: free now, though another process may take it before the
    /// caller's server binds it.</summary>
    public static int Free()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
