using System.Net;
using System.Net.Sockets;

namespace InfraMind;

/// <summary>
/// The address a stranger's requests are counted under, wherever a limit is per client (the gateway's requests in
/// flight, the registry's publish rate): IPv4 as it is (an IPv4-mapped IPv6 address as its IPv4 one), IPv6 by its /64
/// prefix, the size of one subnet: a host there picks any address in it, so counting each would be no limit.
/// </summary>
public static class ClientAddress
{
    /// <summary>The group <paramref name="address"/> is counted in (<see cref="IPAddress.None"/> when it is unknown).</summary>
    public static IPAddress Group(IPAddress? address)
    {
        if (address is null) return IPAddress.None;
        if (address.IsIPv4MappedToIPv6) return address.MapToIPv4();
        if (address.AddressFamily != AddressFamily.InterNetworkV6) return address;
        Span<byte> bytes = stackalloc byte[16];
        address.TryWriteBytes(bytes, out _);
        bytes[8..].Clear();
        return new IPAddress(bytes);
    }

    /// <summary>A group as a message names it: <c>192.0.2.7</c>, or <c>2001:db8:1:2::/64</c>.</summary>
    public static string Describe(IPAddress group)
    {
        ArgumentNullException.ThrowIfNull(group);
        return group.AddressFamily == AddressFamily.InterNetworkV6 ? $"{group}/64" : group.ToString();
    }
}
