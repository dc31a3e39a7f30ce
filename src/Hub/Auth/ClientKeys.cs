using System.Net;
using System.Net.Sockets;

namespace SignalStream.Hub.Auth;

/// <summary>
/// Who a request is counted as by the per-client limits (the REST rate limit, the connection caps, the negotiate limit,
/// the webhook's failed-authentication limit): one rule, so a client is the same client to each of them.
/// </summary>
/// <remarks>
/// The address is the TCP peer's: behind a reverse proxy every request has the proxy's address unless forwarded headers
/// are applied in front of the node (docs/hub.md says so).
/// </remarks>
internal static class ClientKeys
{
    /// <summary>The subject of the request's valid token, else its address (<see cref="AddressOf(IPAddress?)"/>).</summary>
    public static string Of(HttpContext http) =>
        Entitlements.SubjectOf(http.User) is { Length: > 0 } subject ? "sub:" + subject : AddressKeyOf(http);

    /// <summary>The key <see cref="Of(HttpContext)"/> gives a request with this token subject and address; null when
    /// both are unknown.</summary>
    public static string? Of(string? subject, IPAddress? remote) =>
        subject is { Length: > 0 } ? "sub:" + subject : AddressOf(remote) is { } address ? "ip:" + address : null;

    /// <summary>The request's client address as a key, whatever token it carries.</summary>
    public static string AddressKeyOf(HttpContext http) =>
        AddressOf(http.Connection.RemoteIpAddress) is { } address ? "ip:" + address : "ip:unknown";

    /// <summary>
    /// The address a client is counted by: an IPv4 address as itself (also when it arrives IPv4-mapped, as on a dual-mode
    /// socket), an IPv6 address by its /64 prefix, since one host is routinely given a whole /64 and could otherwise be
    /// 2^64 clients.
    /// </summary>
    public static IPAddress? AddressOf(IPAddress? remote)
    {
        var address = Unmapped(remote);
        if (address is null || address.AddressFamily != AddressFamily.InterNetworkV6)
        {
            return address;
        }

        Span<byte> bytes = stackalloc byte[16];
        address.TryWriteBytes(bytes, out _);
        bytes[8..].Clear();
        return new IPAddress(bytes);
    }

    /// <summary>An IPv4-mapped IPv6 address as the IPv4 address it is; others unchanged.</summary>
    public static IPAddress? Unmapped(IPAddress? remote) => remote is { IsIPv4MappedToIPv6: true } ? remote.MapToIPv4() : remote;
}
