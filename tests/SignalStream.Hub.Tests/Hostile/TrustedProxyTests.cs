using System.Net;

namespace SignalStream.Hub.Tests.Hostile;

/// <summary>
/// Behind a reverse proxy every client has the proxy's address: the per-address limits count the address the trusted
/// proxy forwards (<c>Proxy:TrustedNetworks</c>), and a forwarded address from anyone else is ignored.
/// </summary>
public sealed class TrustedProxyTests
{
    private const string Negotiate = "/hubs/signals/negotiate?negotiateVersion=1";

    [Fact]
    public async Task ClientsBehindATrustedProxyAreCountedByTheAddressItForwards()
    {
        await using var node = await TestNode.StartAsync(new InMemorySignalHistory(), settings: ["Proxy:TrustedNetworks=127.0.0.0/8", "Hub:NegotiatesPerSecond=1", "Hub:NegotiateBurst=1"]);
        using var proxy = node.HttpFrom(IPAddress.Loopback);

        // Two clients through one proxy: each its own bucket. The same client twice: its bucket is spent.
        Assert.Equal(HttpStatusCode.OK, await NegotiateAsync(proxy, "203.0.113.7"));
        Assert.Equal(HttpStatusCode.OK, await NegotiateAsync(proxy, "203.0.113.8"));
        Assert.Equal(HttpStatusCode.TooManyRequests, await NegotiateAsync(proxy, "203.0.113.7"));
    }

    [Fact]
    public async Task AForwardedAddressFromAPeerNotTrustedIsIgnored()
    {
        // No trusted network: a client cannot choose the address it is counted by.
        await using var node = await TestNode.StartAsync(new InMemorySignalHistory(), settings: ["Hub:NegotiatesPerSecond=1", "Hub:NegotiateBurst=1"]);
        using var client = node.HttpFrom(IPAddress.Loopback);

        Assert.Equal(HttpStatusCode.OK, await NegotiateAsync(client, "203.0.113.7"));
        Assert.Equal(HttpStatusCode.TooManyRequests, await NegotiateAsync(client, "203.0.113.8"));
    }

    [Fact]
    public void ANetworkThatIsNotCidrStopsTheNodeNamingTheKey()
    {
        var error = Assert.Throws<InvalidOperationException>(() => SignalStream.Hub.Hosting.SignalStreamHost.Build(["--urls=http://127.0.0.1:0", "--Proxy:TrustedNetworks=10.0.0.0/8, proxy.local"]));

        Assert.StartsWith("Proxy:TrustedNetworks has 'proxy.local', which is not a network in CIDR form", error.Message, StringComparison.Ordinal);
    }

    private static async Task<HttpStatusCode> NegotiateAsync(HttpClient http, string forwardedFor)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(Negotiate, UriKind.Relative));
        request.Headers.Add("X-Forwarded-For", forwardedFor);
        using var response = await http.SendAsync(request);
        return response.StatusCode;
    }
}
