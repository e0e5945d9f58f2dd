using System.Globalization;

namespace InfraMind.Conformance;

/// <summary>A TCP socket listening inside the container.</summary>
internal sealed record Listener(string Address, int Port)
{
    /// <summary>Bound to IPv6's loopback only: InfraMind connects to the container's 127.0.0.1 and cannot reach it.</summary>
    public bool Ipv6LoopbackOnly => Address == "::1";
}

/// <summary>
/// Reads the TCP ports a container listens on from /proc/net/tcp{,6} (through exec), so "nothing on port 9000" can
/// say "it listens on 8080 instead". /proc is used because every Linux image has it, unlike ss or netstat.
/// </summary>
internal static class ListeningPorts
{
    public static readonly string[] Command = ["sh", "-c", "cat /proc/net/tcp /proc/net/tcp6 2>/dev/null"];

    public static IReadOnlyList<Listener> Parse(string procNetTcp)
    {
        var listeners = new SortedSet<Listener>(Comparer<Listener>.Create((a, b) => (a.Port, a.Address).CompareTo((b.Port, b.Address))));
        foreach (var line in procNetTcp.Split('\n'))
        {
            var fields = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (fields.Length < 4 || fields[3] != "0A") continue; // 0A = TCP_LISTEN
            var local = fields[1];
            var colon = local.LastIndexOf(':');
            if (colon < 0 || !int.TryParse(local.AsSpan(colon + 1), NumberStyles.HexNumber, CultureInfo.InvariantCulture, out var port)) continue;
            var address = Address(local[..colon]);
            listeners.Add(new Listener(address, port));
        }

        return [.. listeners];
    }

    // /proc/net/tcp writes IPv4 addresses as one little-endian hex word; tcp6 as four of them.
    private static string Address(string hex)
    {
        if (hex.Length == 8 && uint.TryParse(hex, NumberStyles.HexNumber, CultureInfo.InvariantCulture, out var v4))
            return $"{v4 & 0xFF}.{(v4 >> 8) & 0xFF}.{(v4 >> 16) & 0xFF}.{v4 >> 24}";
        if (hex.Length == 32)
        {
            if (hex == "00000000000000000000000000000000") return "::";
            if (hex == "00000000000000000000000001000000") return "::1";
            if (hex.StartsWith("0000000000000000FFFF0000", StringComparison.Ordinal)) return Address(hex[24..]);
        }

        return hex;
    }
}
