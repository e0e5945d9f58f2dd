using System.Net;
using System.Net.Sockets;

namespace InfraMind.Storage;

/// <summary>
/// What a fetch may do, in one place for everyone who fetches: a user's own <c>infra pull</c>
/// (<see cref="Unrestricted"/>: the user named the source), and the fetches made on a stranger's behalf — a registry
/// admitting a publish, a node pulling what a publisher named (<see cref="OnBehalfOfPublishers"/>). The rules:
/// <list type="bullet">
/// <item>destinations: a loopback, private, link-local or otherwise non-public address is refused unless
/// <see cref="AllowedNetworks"/> holds it, judged on the addresses the name resolves to and enforced where the socket
/// connects (<see cref="ConnectAsync"/>, the <c>SocketsHttpHandler.ConnectCallback</c>): the connection goes to the
/// address that was checked, so a name that resolves differently a second time (DNS rebinding) cannot slip past;</item>
/// <item>redirects: followed by InfraMind itself (never by the handler), for GET and HEAD, at most
/// <see cref="MaxRedirects"/>; one to another origin is refused unless <see cref="CrossOriginRedirects"/>, and never
/// carries credentials;</item>
/// <item>bytes: at most <see cref="MaxImageBytes"/> per image, checked against what the source declares before the
/// transfer and counted while it runs;</item>
/// <item>references that resolve on this host (<c>file://</c>, <c>local://</c>) only with <see cref="HostLocalReferences"/>;
/// at most <see cref="MaxReferences"/> references per publish.</item>
/// </list>
/// Violations are <see cref="StorageErrorCodes.DestinationRefused"/>, <see cref="StorageErrorCodes.RedirectRefused"/>,
/// <see cref="StorageErrorCodes.TooLarge"/>.
/// </summary>
public sealed record FetchPolicy
{
    /// <summary>Bytes of one image a publisher may make a registry or node fetch, unless configured otherwise.</summary>
    public const long DefaultMaxImageBytes = 16L << 30;

    /// <summary>References one publish may name, unless configured otherwise.</summary>
    public const int DefaultMaxReferences = 8;

    /// <summary>A user's own fetches: any destination, redirects to other origins followed (without credentials), no byte cap.</summary>
    public static FetchPolicy Unrestricted { get; } = new();

    /// <summary>
    /// Fetches made on a publisher's behalf: public destinations only (plus <paramref name="allowedNetworks"/>), no
    /// redirect to another origin, <paramref name="maxImageBytes"/> per image, host-local references only when
    /// <paramref name="hostLocalReferences"/> (the single-machine embedded mesh).
    /// </summary>
    public static FetchPolicy OnBehalfOfPublishers(IEnumerable<IPNetwork> allowedNetworks, bool hostLocalReferences, long maxImageBytes = DefaultMaxImageBytes) => new()
    {
        RestrictDestinations = true,
        AllowedNetworks = [.. allowedNetworks],
        CrossOriginRedirects = false,
        MaxImageBytes = maxImageBytes,
        HostLocalReferences = hostLocalReferences,
        AnswerFromStore = false,
        NameImages = false,
    };

    /// <summary>Refuse loopback, private, link-local and other non-public destinations (unless allow-listed).</summary>
    public bool RestrictDestinations { get; init; }

    /// <summary>Networks allowed although not public, e.g. 127.0.0.1/32 for a test's own peers.</summary>
    public IReadOnlyList<IPNetwork> AllowedNetworks { get; init; } = [];

    /// <summary>Whether a redirect to another scheme, host or port is followed (without credentials).</summary>
    public bool CrossOriginRedirects { get; init; } = true;

    public int MaxRedirects { get; init; } = 5;

    /// <summary>Bytes of one image (manifest, config and layers, or the one archive file); null for no cap.</summary>
    public long? MaxImageBytes { get; init; }

    /// <summary>Whether <c>file://</c> and <c>local://</c> references, which resolve on this host, may be used.</summary>
    public bool HostLocalReferences { get; init; } = true;

    public int MaxReferences { get; init; } = DefaultMaxReferences;

    /// <summary>
    /// Whether a fetched image gets a name in the local store (the registry/repository:tag of an oci:// reference the
    /// user gave). Off on a publisher's behalf. Names inside archives never become names, whatever this says.
    /// </summary>
    public bool NameImages { get; init; } = true;

    /// <summary>
    /// Whether a reference pinned to a manifest the local store holds is answered from the store. Off when the point is
    /// to prove the source serves the content (admission).
    /// </summary>
    public bool AnswerFromStore { get; init; } = true;

    /// <summary>How names are resolved (the system resolver); replaceable so tests can make a name resolve anywhere.</summary>
    public Func<string, CancellationToken, Task<IPAddress[]>> ResolveHost { get; init; } = Dns.GetHostAddressesAsync;

    /// <summary>Whether a connection to <paramref name="address"/> is allowed.</summary>
    public bool Permits(IPAddress address)
    {
        ArgumentNullException.ThrowIfNull(address);
        if (address.IsIPv4MappedToIPv6) address = address.MapToIPv4();
        return !RestrictDestinations || IsPublic(address) || AllowedNetworks.Any(n => n.Contains(address));
    }

    /// <summary>
    /// Whether <paramref name="address"/> is a public unicast address. Everything else is refused on a publisher's
    /// behalf: loopback, RFC 1918 and unique-local, link-local (169.254/16 holds cloud metadata services), shared
    /// (100.64/10), unspecified, multicast, broadcast, reserved, and the IPv6 forms that embed an IPv4 address
    /// (NAT64, 6to4, Teredo), whose target could be any of those.
    /// </summary>
    public static bool IsPublic(IPAddress address)
    {
        ArgumentNullException.ThrowIfNull(address);
        if (address.IsIPv4MappedToIPv6) address = address.MapToIPv4();
        var blocked = address.AddressFamily == AddressFamily.InterNetwork ? BlockedV4 : BlockedV6;
        return !blocked.Any(n => n.Contains(address));
    }

    private static readonly IPNetwork[] BlockedV4 =
    [
        .. new[]
        {
            "0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16", "172.16.0.0/12", "192.0.0.0/24",
            "192.0.2.0/24", "192.88.99.0/24", "192.168.0.0/16", "198.18.0.0/15", "198.51.100.0/24", "203.0.113.0/24",
            "224.0.0.0/4", "240.0.0.0/4",
        }.Select(IPNetwork.Parse),
    ];

    private static readonly IPNetwork[] BlockedV6 =
    [
        .. new[]
        {
            "::/128", "::1/128", "::ffff:0:0/96", "64:ff9b::/96", "64:ff9b:1::/48", "100::/64", "2001::/32", "2001:db8::/32",
            "2002::/16", "fc00::/7", "fe80::/10", "fec0::/10", "ff00::/8",
        }.Select(IPNetwork.Parse),
    ];

    /// <summary>
    /// The connect step of every HTTP client this policy governs: resolves the name, keeps the permitted addresses and
    /// connects to one of them (never resolving again), so the address checked is the address used.
    /// </summary>
    internal async ValueTask<Stream> ConnectAsync(SocketsHttpConnectionContext context, CancellationToken cancellationToken)
    {
        var endpoint = context.DnsEndPoint;
        IPAddress[] addresses;
        if (IPAddress.TryParse(endpoint.Host.Trim('[', ']'), out var literal))
        {
            addresses = [literal];
        }
        else
        {
            addresses = await ResolveHost(endpoint.Host, cancellationToken).ConfigureAwait(false);
        }
        var permitted = addresses.Where(Permits).ToArray();
        if (permitted.Length == 0)
        {
            throw new StorageException(StorageErrorCodes.DestinationRefused,
                $"{endpoint.Host}:{endpoint.Port} resolves to {(addresses.Length == 0 ? "no address" : string.Join(", ", addresses.Select(a => a.ToString())))}, " +
                "which is not a public address; content fetched on a publisher's behalf must come from a public host. Nothing was sent.");
        }

        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            await socket.ConnectAsync(permitted, endpoint.Port, cancellationToken).ConfigureAwait(false);
            return new NetworkStream(socket, ownsSocket: true);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }
}
