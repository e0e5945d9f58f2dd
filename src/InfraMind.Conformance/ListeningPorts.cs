using System.Globalization;

namespace InfraMind.Conformance;

/// <summary>
/// Reads the TCP ports a container listens on from /proc/net/tcp{,6} (through exec), so "nothing on port 9000" can
/// say "it listens on 8080 instead". /proc is used because every Linux image has it, unlike ss or netstat.
/// </summary>
internal static class ListeningPorts
{
    public static readonly string[] Command = ["sh", "-c", "cat /proc/net/tcp /proc/net/tcp6 2>/dev/null"];

    public static IReadOnlyList<int> Parse(string procNetTcp)
    {
        var ports = new SortedSet<int>();
        foreach (var line in procNetTcp.Split('\n'))
        {
            var fields = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (fields.Length < 4 || fields[3] != "0A") continue; // 0A = TCP_LISTEN
            var local = fields[1];
            var colon = local.LastIndexOf(':');
            if (colon < 0) continue;
            if (int.TryParse(local.AsSpan(colon + 1), NumberStyles.HexNumber, CultureInfo.InvariantCulture, out var port)) ports.Add(port);
        }

        return [.. ports];
    }
}
