using System.Net;
using System.Net.Sockets;

namespace SignalStream.Hub.Tests.Infrastructure;

/// <summary>The "receiver is down" tests rely on these: without them another test's server can answer in its place.</summary>
public sealed class RefusingPortTests
{
    [Fact]
    public void AHeldPortRefusesConnectionsAndNoOtherServerCanBindIt()
    {
        using var down = new RefusingPort();

        using var other = new TcpListener(IPAddress.Loopback, down.Port);
        Assert.Equal(SocketError.AddressAlreadyInUse, Assert.Throws<SocketException>(() => other.Start()).SocketErrorCode);

        using var client = new TcpClient();
        Assert.Equal(SocketError.ConnectionRefused, Assert.Throws<SocketException>(() => client.Connect(IPAddress.Loopback, down.Port)).SocketErrorCode);
    }

    [Fact]
    public void AReleasedPortCanBeBoundByTheReceiver()
    {
        using var down = new RefusingPort();
        down.Release();

        using var receiver = new TcpListener(IPAddress.Loopback, down.Port);
        receiver.Start();
    }
}
