using System.Net;
using System.Numerics;

namespace InfraMind.Storage.Tests.Http;

/// <summary>
/// Every non-public range at its ends: its first and last address are refused on a publisher's behalf and the
/// addresses just outside it are public (unless another range holds them); IPv4-mapped IPv6 is judged as the IPv4 it
/// maps; an allow-listed network opens its range only.
/// </summary>
public sealed class FetchPolicyRangeTests
{
    public static TheoryData<string, string> Blocked => new()
    {
        { "0.0.0.0", "0.255.255.255" }, { "10.0.0.0", "10.255.255.255" }, { "100.64.0.0", "100.127.255.255" },
        { "127.0.0.0", "127.255.255.255" }, { "169.254.0.0", "169.254.255.255" }, { "172.16.0.0", "172.31.255.255" },
        { "192.0.0.0", "192.0.0.255" }, { "192.0.2.0", "192.0.2.255" }, { "192.88.99.0", "192.88.99.255" },
        { "192.168.0.0", "192.168.255.255" }, { "198.18.0.0", "198.19.255.255" }, { "198.51.100.0", "198.51.100.255" },
        { "203.0.113.0", "203.0.113.255" }, { "224.0.0.0", "239.255.255.255" }, { "240.0.0.0", "255.255.255.255" },
        { "::", "::" }, { "::1", "::1" }, { "::ffff:0:0", "::ffff:ffff:ffff" }, { "64:ff9b::", "64:ff9b::ffff:ffff" },
        { "64:ff9b:1::", "64:ff9b:1:ffff:ffff:ffff:ffff:ffff" }, { "100::", "100::ffff:ffff:ffff:ffff" },
        { "2001::", "2001:0:ffff:ffff:ffff:ffff:ffff:ffff" }, { "2001:db8::", "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff" },
        { "2002::", "2002:ffff:ffff:ffff:ffff:ffff:ffff:ffff" }, { "fc00::", "fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff" },
        { "fe80::", "febf:ffff:ffff:ffff:ffff:ffff:ffff:ffff" }, { "fec0::", "feff:ffff:ffff:ffff:ffff:ffff:ffff:ffff" },
        { "ff00::", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff" },
    };

    private static IPAddress Step(IPAddress address, int by)
    {
        byte[] bytes = address.GetAddressBytes();
        var value = new BigInteger(bytes, isUnsigned: true, isBigEndian: true) + by;
        var max = BigInteger.One << (bytes.Length * 8);
        if (value < 0 || value >= max)
        {
            return address;
        }

        byte[] raw = value.ToByteArray(isUnsigned: true, isBigEndian: true);
        var result = new byte[bytes.Length];
        raw.CopyTo(result, result.Length - raw.Length);
        return new IPAddress(result);
    }

    private static bool InAnyRange(IPAddress address) =>
        Blocked.Any(row =>
        {
            var first = IPAddress.Parse((string)row[0]);
            var last = IPAddress.Parse((string)row[1]);
            if (first.AddressFamily != address.AddressFamily) return false;
            var v = new BigInteger(address.GetAddressBytes(), true, true);
            return v >= new BigInteger(first.GetAddressBytes(), true, true) && v <= new BigInteger(last.GetAddressBytes(), true, true);
        });

    [Theory]
    [MemberData(nameof(Blocked))]
    public void A_non_public_range_is_refused_from_its_first_address_to_its_last_and_no_further(string first, string last)
    {
        var restricted = FetchPolicy.OnBehalfOfPublishers([], hostLocalReferences: false);
        foreach (var inside in new[] { IPAddress.Parse(first), IPAddress.Parse(last) })
        {
            Assert.False(FetchPolicy.IsPublic(inside), $"{inside} is public");
            Assert.False(restricted.Permits(inside), $"{inside} is permitted");
            Assert.True(FetchPolicy.Unrestricted.Permits(inside));
        }

        foreach (var outside in new[] { Step(IPAddress.Parse(first), -1), Step(IPAddress.Parse(last), 1) })
        {
            // ::ffff:a.b.c.d outside ::ffff:0:0/96 is not mapped IPv4; a neighbour inside another range stays refused.
            if (!InAnyRange(outside))
            {
                Assert.True(FetchPolicy.IsPublic(outside), $"{outside} (next to {first}–{last}) is not public");
            }
        }
    }

    [Fact]
    public void A_mapped_ipv4_address_is_judged_as_the_ipv4_address()
    {
        var allowLoopback = FetchPolicy.OnBehalfOfPublishers([IPNetwork.Parse("127.0.0.1/32")], hostLocalReferences: false);
        Assert.True(allowLoopback.Permits(IPAddress.Parse("::ffff:127.0.0.1")));
        Assert.True(allowLoopback.Permits(IPAddress.Parse("127.0.0.1")));
        Assert.False(allowLoopback.Permits(IPAddress.Parse("127.0.0.2")));
        Assert.False(allowLoopback.Permits(IPAddress.Parse("::ffff:127.0.0.2")));
        Assert.True(FetchPolicy.IsPublic(IPAddress.Parse("::ffff:93.184.216.34")));
        Assert.True(allowLoopback.Permits(IPAddress.Parse("::ffff:93.184.216.34")));
        Assert.False(FetchPolicy.IsPublic(IPAddress.Parse("::ffff:192.168.0.1")));
        // Only a mapped address is read as IPv4: an IPv6 address of a refused range whose last 32 bits spell a public
        // IPv4 address (unique-local fd00::808:808, link-local fe80::5db8:d822) stays refused.
        Assert.False(allowLoopback.Permits(IPAddress.Parse("fd00::808:808")));
        Assert.False(allowLoopback.Permits(IPAddress.Parse("fe80::5db8:d822")));
    }

    [Fact]
    public void The_publishers_policy_holds_each_of_its_rules_and_a_users_own_fetch_none()
    {
        var publishers = FetchPolicy.OnBehalfOfPublishers([IPNetwork.Parse("10.0.0.0/8")], hostLocalReferences: true, maxImageBytes: 1234);
        Assert.True(publishers.RestrictDestinations);
        Assert.Equal([IPNetwork.Parse("10.0.0.0/8")], publishers.AllowedNetworks);
        Assert.False(publishers.CrossOriginRedirects);
        Assert.Equal(1234, publishers.MaxImageBytes);
        Assert.True(publishers.HostLocalReferences);
        Assert.False(publishers.AnswerFromStore);
        Assert.False(publishers.NameImages);
        Assert.Equal(FetchPolicy.DefaultMaxImageBytes, FetchPolicy.OnBehalfOfPublishers([], false).MaxImageBytes);
        Assert.Equal(16L << 30, FetchPolicy.DefaultMaxImageBytes);
        Assert.False(FetchPolicy.OnBehalfOfPublishers([], false).HostLocalReferences);

        var user = FetchPolicy.Unrestricted;
        Assert.False(user.RestrictDestinations);
        Assert.Empty(user.AllowedNetworks);
        Assert.True(user.CrossOriginRedirects);
        Assert.Null(user.MaxImageBytes);
        Assert.True(user.HostLocalReferences);
        Assert.True(user.AnswerFromStore);
        Assert.True(user.NameImages);
        Assert.Equal(5, user.MaxRedirects);
        Assert.Equal(8, user.MaxReferences);
    }
}
