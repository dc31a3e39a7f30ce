using System.Net;
using Microsoft.AspNetCore.HttpOverrides;

namespace SignalStream.Hub.Hosting;

/// <summary>
/// <c>X-Forwarded-For</c> and <c>X-Forwarded-Proto</c> applied from the reverse proxies the operator trusts
/// (<c>Proxy:TrustedNetworks</c>). Behind a proxy every client arrives with the proxy's address, and every per-address
/// limit (connections, negotiates, connects, the REST limit, the webhook's failed authentications) would count all
/// clients as one: 200 connections for the whole deployment. Only a request whose peer is inside a trusted network has
/// its headers applied, one hop; from anywhere else they are ignored, so a client cannot pick its own address.
/// </summary>
internal static class TrustedProxies
{
    public const string Key = "Proxy:TrustedNetworks";

    /// <summary>The forwarded-headers settings, or null when no proxy is trusted; throws, naming the key, on a bad network.</summary>
    public static ForwardedHeadersOptions? Resolve(IConfiguration configuration)
    {
        var value = configuration[Key];
        if (string.IsNullOrWhiteSpace(value))
        {
            return null;
        }

        var options = new ForwardedHeadersOptions { ForwardedHeaders = ForwardedHeaders.XForwardedFor | ForwardedHeaders.XForwardedProto, ForwardLimit = 1 };
        options.KnownIPNetworks.Clear();
        options.KnownProxies.Clear();
        foreach (var network in value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            if (!System.Net.IPNetwork.TryParse(network, out var parsed))
            {
                throw new InvalidOperationException(
                    $"{Key} has '{network}', which is not a network in CIDR form (for example 10.0.0.0/8 or fd00::/8); list the networks your reverse proxies connect from, separated by commas.");
            }

            options.KnownIPNetworks.Add(parsed);
        }

        return options;
    }
}
