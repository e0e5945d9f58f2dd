using System.Net.Sockets;
using System.Runtime.CompilerServices;
using InfraMind.Hosting;

namespace InfraMind.Serving;

/// <summary>The HTTP client of the data path: a gateway's to nodes and containers, a node's to its containers.</summary>
public static class JobHttp
{
    private static readonly HttpRequestOptionsKey<IModelConnector> ConnectorKey = new("InfraMind.ModelConnector");
    private static readonly ConditionalWeakTable<IModelConnector, string> Authorities = [];
    private static long _connectors;

    /// <summary>
    /// No proxy; no redirects (a model's 3xx is an answer to judge, never a place to go: following it would let a model
    /// make the gateway or a node call any address); no cookies; of the trace, the W3C traceparent alone (<see cref="Telemetry.TraceparentPropagator"/>); connections renewed every 2
    /// minutes, at most 1024 at once to one server; no client-wide timeout (each job has its own limit); an answer left unread (over a reader's limit) is
    /// not drained: its connection is dropped at once. A request made by <see cref="ForConnector"/> connects through
    /// its <see cref="IModelConnector"/>; any other to its URI's host. <paramref name="connectTimeout"/> bounds making a
    /// connection (null: the handler's default, no limit but the request's own): a host that vanished from the network
    /// answers no SYN, and a job should move on to another node long before its own time limit. <paramref name="tls"/>:
    /// how an https server is checked (a pin, <see cref="Tls.MeshTls.Pinned"/>); null: the system's CAs.
    /// </summary>
    public static HttpClient CreateClient(TimeSpan? connectTimeout = null, System.Net.Security.SslClientAuthenticationOptions? tls = null) => new(new SocketsHttpHandler
    {
        SslOptions = tls ?? new(),
        ConnectTimeout = connectTimeout ?? Timeout.InfiniteTimeSpan,
        UseProxy = false,
        AllowAutoRedirect = false,
        UseCookies = false,
        ActivityHeadersPropagator = Telemetry.TraceparentPropagator.Instance,
        PooledConnectionLifetime = TimeSpan.FromMinutes(2),
        MaxResponseDrainSize = 0,
        // A node holds at most ServerLimits.MaxConnectionsPerAddress connections from one address and closes one beyond
        // unread, which would read as the node's connection failure: past this many, a request waits in the pool for a
        // connection instead (the gateway's inferences in flight, 1024 by default, stay within it).
        MaxConnectionsPerServer = ServerLimits.DefaultMaxConnectionsPerAddress,
        ConnectCallback = ConnectAsync,
    })
    {
        Timeout = Timeout.InfiniteTimeSpan,
    };

    /// <summary>
    /// A POST to the model behind <paramref name="connector"/>. Its URI names the connector alone (a host of its own
    /// under <c>.invalid</c>), so pooled connections of one container never serve another.
    /// </summary>
    public static HttpRequestMessage ForConnector(IModelConnector connector)
    {
        ArgumentNullException.ThrowIfNull(connector);
        var authority = Authorities.GetValue(connector, _ => $"c{Interlocked.Increment(ref _connectors)}.model.invalid");
        var request = new HttpRequestMessage(HttpMethod.Post, new Uri($"http://{authority}/"));
        request.Options.Set(ConnectorKey, connector);
        return request;
    }

    private static async ValueTask<Stream> ConnectAsync(SocketsHttpConnectionContext context, CancellationToken cancellationToken)
    {
        if (context.InitialRequestMessage.Options.TryGetValue(ConnectorKey, out var connector)) return await connector.ConnectAsync(cancellationToken);
        // What the handler does without a callback: a TCP connection to the URI's host, no Nagle delay.
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            await socket.ConnectAsync(context.DnsEndPoint, cancellationToken);
            return new NetworkStream(socket, ownsSocket: true);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }
}
