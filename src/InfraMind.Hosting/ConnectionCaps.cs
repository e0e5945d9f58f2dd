using System.Collections.Concurrent;
using System.Net;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Prometheus;

namespace InfraMind.Hosting;

/// <summary>
/// <see cref="ServerLimits.MaxConnections"/> and <see cref="ServerLimits.MaxConnectionsPerAddress"/> on one server: a
/// Kestrel connection middleware, first on every endpoint of the server (before TLS and HTTP), that counts the
/// connections the server holds and those of each client address (<see cref="ClientAddress.Group"/>), and closes one
/// beyond either cap as soon as it is accepted, unread and unanswered. Written here because Kestrel has a total cap only
/// (ASP.NET Core's rate limiting works on requests, once a connection is held), and Kestrel's logs a warning for every
/// connection it refuses, so a stranger opening connections in a loop set the log's volume; both caps live here so that
/// refusals have one count and one log: at most one line every <see cref="LogEvery"/> per server, with how many were
/// refused at each cap and the last address refused.
/// <para>
/// Memory: one entry per address holding a connection, removed with its last one: at most
/// <see cref="ServerLimits.MaxConnections"/> entries.
/// </para>
/// <para>
/// A host makes the caps from its <see cref="ServerLimits"/> (checked here), gives them to <see cref="ServerOptions.Limit"/>,
/// which sets the limits they carry on Kestrel, and <see cref="Export"/>s their counts to its /metrics: connections open,
/// and those refused at each cap since the server started.
/// </para>
/// </summary>
public sealed class ConnectionCaps
{
    /// <summary>Shortest time between two log lines about refused connections.</summary>
    internal static readonly TimeSpan LogEvery = TimeSpan.FromSeconds(10);

    private readonly int _total;
    private readonly int _perAddress;
    private readonly ConcurrentDictionary<IPAddress, int> _held = new();
    private readonly Lock _logGate = new();
    private int _open;
    private long _refusedAtTotal;
    private long _refusedAtAddress;

    // What the last log line counted up to (under _logGate): a line says the refusals since.
    private long _loggedAtTotal;
    private long _loggedAtAddress;
    private long _nextLogAt;
    private ILogger? _log;

    /// <summary>The caps <paramref name="limits"/> set (at most <see cref="ServerLimits.MaxConnections"/> per address takes effect).</summary>
    /// <exception cref="ArgumentException">when <paramref name="limits"/> has a value <see cref="ServerLimits.Validate"/> refuses.</exception>
    public ConnectionCaps(ServerLimits limits)
    {
        ArgumentNullException.ThrowIfNull(limits);
        if (limits.Validate() is [var first, ..]) throw new ArgumentException(first, nameof(limits));
        Limits = limits;
        _total = limits.MaxConnections;
        _perAddress = Math.Min(limits.MaxConnectionsPerAddress, limits.MaxConnections);
    }

    /// <summary>The server's limits, which <see cref="ServerOptions.Limit"/> sets on its Kestrel.</summary>
    public ServerLimits Limits { get; }

    /// <summary>Connections held now from <paramref name="address"/>'s group (for tests).</summary>
    internal int HeldFrom(IPAddress address) => _held.TryGetValue(ClientAddress.Group(address), out var n) ? n : 0;

    /// <summary>Addresses holding a connection now (for tests: an address with none left has no entry).</summary>
    internal int Addresses => _held.Count;

    /// <summary>Connections held now.</summary>
    public int Open => Volatile.Read(ref _open);

    /// <summary>Connections refused since the server started because it held <see cref="ServerLimits.MaxConnections"/>.</summary>
    public long RefusedAtTotal => Interlocked.Read(ref _refusedAtTotal);

    /// <summary>Connections refused since the server started because their address held <see cref="ServerLimits.MaxConnectionsPerAddress"/>.</summary>
    public long RefusedAtAddress => Interlocked.Read(ref _refusedAtAddress);

    /// <summary>
    /// Puts these counts on <paramref name="registry"/>, read at each scrape, labelled <c>server</c> =
    /// <paramref name="server"/> (a host with two servers, the gateway's REST API and its gRPC ingress, exports both to one
    /// registry): <c>inframind_connections_open</c>, <c>inframind_connections_refused_total</c> by <c>cap</c> (<c>all</c>,
    /// <c>address</c>) and the caps themselves, <c>inframind_connections_limit</c> by <c>scope</c>.
    /// </summary>
    public void Export(CollectorRegistry registry, string server)
    {
        ArgumentNullException.ThrowIfNull(registry);
        ArgumentException.ThrowIfNullOrEmpty(server);
        var f = Metrics.WithCustomRegistry(registry);
        var open = f.CreateGauge("inframind_connections_open", "Client connections this server holds now.", "server").WithLabels(server);
        var refused = f.CreateCounter("inframind_connections_refused_total",
            "Client connections closed unread as they were accepted: at the server's cap (all, --max-connections) or at one address's (address, --max-connections-per-address).",
            "server", "cap");
        var limits = f.CreateGauge("inframind_connections_limit", "The most client connections a server holds at once: all, and from one address.", "server", "scope");
        limits.WithLabels(server, "all").Set(_total);
        limits.WithLabels(server, "address").Set(_perAddress);
        var atAll = refused.WithLabels(server, "all");
        var atAddress = refused.WithLabels(server, "address");
        registry.AddBeforeCollectCallback(() =>
        {
            open.Set(Open);
            atAll.IncTo(RefusedAtTotal);
            atAddress.IncTo(RefusedAtAddress);
        });
    }

    /// <summary>The middleware for one endpoint; <paramref name="services"/>: the host's, for its logger.</summary>
    public Func<ConnectionDelegate, ConnectionDelegate> For(IServiceProvider? services) => next => async connection =>
    {
        var group = ClientAddress.Group((connection.RemoteEndPoint as IPEndPoint)?.Address);
        if (Interlocked.Increment(ref _open) > _total)
        {
            Interlocked.Decrement(ref _open);
            Refused(ref _refusedAtTotal, group, services);
            return; // Kestrel closes a connection whose middleware returns: nothing read, nothing written.
        }

        try
        {
            if (!TryEnter(group))
            {
                Refused(ref _refusedAtAddress, group, services);
                return;
            }

            try
            {
                await next(connection);
            }
            finally
            {
                Leave(group);
            }
        }
        finally
        {
            Interlocked.Decrement(ref _open);
        }
    };

    private bool TryEnter(IPAddress group)
    {
        while (true)
        {
            if (_held.TryGetValue(group, out var n))
            {
                if (n >= _perAddress) return false;
                if (_held.TryUpdate(group, n + 1, n)) return true;
            }
            else if (_held.TryAdd(group, 1))
            {
                return true;
            }
        }
    }

    private void Leave(IPAddress group)
    {
        while (true)
        {
            var n = _held[group];
            if (n == 1 ? _held.TryRemove(KeyValuePair.Create(group, 1)) : _held.TryUpdate(group, n - 1, n)) return;
        }
    }

    private void Refused(ref long counter, IPAddress group, IServiceProvider? services)
    {
        Interlocked.Increment(ref counter);
        var now = Environment.TickCount64;
        if (now < Volatile.Read(ref _nextLogAt)) return;
        long atTotal, atAddress;
        lock (_logGate)
        {
            if (now < _nextLogAt) return;
            _nextLogAt = now + (long)LogEvery.TotalMilliseconds;
            long total = RefusedAtTotal, address = RefusedAtAddress;
            (atTotal, atAddress) = (total - _loggedAtTotal, address - _loggedAtAddress);
            (_loggedAtTotal, _loggedAtAddress) = (total, address);
        }

        _log ??= services?.GetService<ILoggerFactory>()?.CreateLogger("InfraMind.Connections");
        _log?.LogWarning(
            "Refused connections, closed unread: {AtTotal} with {Total} open (the most in all, --max-connections), {AtAddress} from an address holding {PerAddress} " +
            "(the most from one, --max-connections-per-address); the last from {Address}. At most one such line every {Seconds} s",
            atTotal, _total, atAddress, _perAddress, ClientAddress.Describe(group), LogEvery.TotalSeconds);
    }
}
