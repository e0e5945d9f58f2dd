using System.CommandLine;
using System.Globalization;
using System.Net;

namespace InfraMind.Cli.Commands.Serving;

/// <summary>
/// Where a serving command binds: 127.0.0.1 unless `--listen ADDRESS[:PORT]` names another address (a port there wins
/// over --port). Only IP addresses: a host name could resolve to an address the operator did not mean to expose.
/// </summary>
internal sealed record ListenAt(IPAddress Address, int Port)
{
    public static ListenAt Loopback(int port) => new(IPAddress.Loopback, port);

    public string Host => Address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 ? $"[{Address}]" : Address.ToString();

    public string Url => $"http://{Host}:{Port.ToString(CultureInfo.InvariantCulture)}";

    /// <summary>The same address served over TLS.</summary>
    public string HttpsUrl => $"https://{Host}:{Port.ToString(CultureInfo.InvariantCulture)}";

    public bool IsLoopback => IPAddress.IsLoopback(Address);

    /// <summary>0.0.0.0 or [::]: every address of the machine, none of which is the node's address in particular.</summary>
    public bool IsUnspecified => Address.Equals(IPAddress.Any) || Address.Equals(IPAddress.IPv6Any);

    public override string ToString() => $"{Host}:{Port.ToString(CultureInfo.InvariantCulture)}";

    /// <summary>From `--listen` and `--port`; IM0002-style usage error naming the option otherwise.</summary>
    public static ListenAt From(ParseResult parse, Option<string?> listen, Option<int> port)
    {
        var text = parse.GetValue(listen);
        var portValue = parse.GetValue(port);
        if (string.IsNullOrWhiteSpace(text)) return Loopback(portValue);
        if (IPAddress.TryParse(text, out var address) && !text.StartsWith('[')) return new ListenAt(address, portValue);
        if (IPEndPoint.TryParse(text, out var endpoint) && (text.Contains("]:", StringComparison.Ordinal) || !text.StartsWith('[')))
            return new ListenAt(endpoint.Address, endpoint.Port);
        throw new InfraMindException(CliErrorCodes.UsageError, $"--listen '{text}' is not an IP address, optionally with :PORT",
            "write e.g. --listen 10.0.0.5, --listen 0.0.0.0:8080 or --listen [::1]:8080");
    }

    /// <summary>`--advertise URL`: an absolute http(s) URL, or a usage error naming the option.</summary>
    public static Uri? Advertised(ParseResult parse, Option<string?> advertise)
    {
        if (parse.GetValue(advertise) is not { } text) return null;
        return Uri.TryCreate(text.EndsWith('/') ? text : text + "/", UriKind.Absolute, out var uri) && uri.Scheme is "http" or "https"
            ? uri
            : throw new InfraMindException(CliErrorCodes.UsageError, $"--advertise '{text}' is not an http(s) URL", "write e.g. --advertise http://10.0.0.5:7500/");
    }
}
