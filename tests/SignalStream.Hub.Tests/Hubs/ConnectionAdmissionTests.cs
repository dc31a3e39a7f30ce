using System.Diagnostics.Metrics;
using System.Net;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using SignalStream.Hub.Hubs;
using SignalStream.Hub.Hubs.Internal;

namespace SignalStream.Hub.Tests.Hubs;

/// <summary>
/// <c>Hub:MaxConnectionsPerIp</c> counts a client the way the REST limiter does: an IPv6 host by its /64 (one host is
/// given a whole /64, so counted by full address it could fill the node alone), an IPv4-mapped address as its IPv4 one.
/// </summary>
public sealed class ConnectionAdmissionTests : IAsyncDisposable
{
    private readonly ServiceProvider _services = new ServiceCollection().AddMetrics().BuildServiceProvider();

    [Fact]
    public void FiftyAddressesOfOneIpv6Slash64AreOneClientUnderThePerAddressCap()
    {
        var admission = Admission(maxConnectionsPerIp: 2);
        var slots = new List<ConnectionAdmission.Slot>();
        for (var i = 1; i <= 50; i++)
        {
            if (admission.TryAdmit(IPAddress.Parse($"2001:db8:1:2::{i:x}"), null, out var slot) == AdmissionRefusal.None)
            {
                slots.Add(slot!);
            }
        }

        Assert.Equal(2, slots.Count);
        Assert.Equal(AdmissionRefusal.PerIp, admission.Check(IPAddress.Parse("2001:db8:1:2:ffff:ffff:ffff:ffff"), null));

        // The next /64 is another client; a slot given back in the first lets any address of it in again.
        Assert.Equal(AdmissionRefusal.None, admission.TryAdmit(IPAddress.Parse("2001:db8:1:3::1"), null, out _));
        slots[0].Release();
        Assert.Equal(AdmissionRefusal.None, admission.TryAdmit(IPAddress.Parse("2001:db8:1:2:abcd::9"), null, out _));
    }

    [Fact]
    public void AnIpv4MappedIpv6AddressCountsAsItsIpv4Address()
    {
        var admission = Admission(maxConnectionsPerIp: 1);
        Assert.Equal(AdmissionRefusal.None, admission.TryAdmit(IPAddress.Parse("192.0.2.7"), null, out _));
        Assert.Equal(AdmissionRefusal.PerIp, admission.TryAdmit(IPAddress.Parse("::ffff:192.0.2.7"), null, out _));
        Assert.Equal(AdmissionRefusal.None, admission.TryAdmit(IPAddress.Parse("::ffff:192.0.2.8"), null, out _));
    }

    public ValueTask DisposeAsync() => _services.DisposeAsync();

    private ConnectionAdmission Admission(int maxConnectionsPerIp)
    {
        var options = Options.Create(new SignalHubOptions { MaxConnectionsPerIp = maxConnectionsPerIp });
        return new ConnectionAdmission(options, new HubMetrics(_services.GetRequiredService<IMeterFactory>()), TimeProvider.System,
            NullLogger<ConnectionAdmission>.Instance);
    }
}
