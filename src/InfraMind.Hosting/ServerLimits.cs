namespace InfraMind.Hosting;

/// <summary>
/// The limits every InfraMind server (the gateway's REST API and its gRPC ingress, a node's job API, the registry)
/// applies to Kestrel, below its endpoints: what a stranger's connections may hold (a count, bytes, time) before any
/// handler sees a request. Each is set explicitly rather than left to whatever ASP.NET Core's default is in a given
/// release; docs/operations.md has the table of them, what a client gets at each, and the flag.
/// <para>
/// Set on Kestrel in one place for every server, <see cref="ServerOptions.Limit"/>: the values and their mapping live
/// here, in InfraMind.Hosting, which the gateway, the nodes and the registry all reference (the registry does not
/// reference InfraMind.Serving, and should not for this: its gRPC and telemetry packages). ServerLimitsMappingTests
/// proves every value reaches Kestrel, ConnectionLimitsTests what they do on each running server.
/// </para>
/// <para>
/// The memory a stranger can make a server hold with connections is bounded by <see cref="MaxConnections"/> times what
/// one connection may buffer: a request head (<see cref="MaxRequestHeadersTotalSize"/>, <see cref="MaxRequestLineSize"/>),
/// unread request body (<see cref="MaxRequestBufferSize"/> on HTTP/1.1, <see cref="Http2InitialConnectionWindowSize"/> on
/// HTTP/2) and unsent answer (<see cref="MaxResponseBufferSize"/>). An idle connection costs about 10 KiB (measured: 4096
/// idle connections to a gateway took 40 MiB more resident memory, 10,000 took 91 MiB).
/// </para>
/// </summary>
public sealed record ServerLimits
{
    /// <summary>
    /// The default <see cref="MaxConnections"/>: on a 2-core, 24 GiB machine 4096 idle connections are ~40 MiB, and
    /// 4096 connections each buffering all it may (1 MiB) stay within 4 GiB; far more than the clients such a server
    /// answers at once (the gateway takes 1024 inferences in flight).
    /// </summary>
    public const int DefaultMaxConnections = 4096;

    /// <summary>The most a <c>--max-connections</c> flag takes (each connection is a file descriptor).</summary>
    public const int MaxMaxConnections = 1_000_000;

    /// <summary>
    /// Open connections the server holds at once (HTTP/1.1 and HTTP/2 alike, idle or not); one beyond is accepted and
    /// closed at once, before a byte is read or written (<see cref="ConnectionCaps"/>, which logs refusals at most once
    /// every 10 s). Was unlimited (Kestrel's default): 10,000 idle connections
    /// grew a gateway by 91 MiB and took 10,000 file descriptors, and nothing stopped the next 10,000.
    /// </summary>
    public int MaxConnections { get; init; } = DefaultMaxConnections;

    /// <summary>
    /// The default <see cref="MaxConnectionsPerAddress"/>: a quarter of <see cref="DefaultMaxConnections"/>, so no one
    /// address fills a server; at least the gateway's inferences in flight (1024), so a gateway's pool of connections to
    /// a node (<c>JobHttp</c> opens at most this many to one node) never meets it, and four times what one client may
    /// have in flight at the gateway (256).
    /// </summary>
    public const int DefaultMaxConnectionsPerAddress = 1024;

    /// <summary>
    /// Open connections the server holds at once from one client address (<see cref="ClientAddress.Group"/>: an IPv6 /64
    /// as one); one beyond is closed as soon as it is accepted (<see cref="ConnectionCaps"/>), before a byte is read or written, while other addresses
    /// are served. At most <see cref="MaxConnections"/> takes effect. Without it one address could hold every one of
    /// <see cref="MaxConnections"/> and shut every other client out. Behind a reverse proxy every client has the proxy's
    /// address: raise it there (docs/operations.md).
    /// </summary>
    public int MaxConnectionsPerAddress { get; init; } = DefaultMaxConnectionsPerAddress;

    /// <summary>
    /// Connections upgraded to another protocol (WebSockets): none of InfraMind's endpoints upgrades, and an upgraded
    /// connection counts here instead of against <see cref="MaxConnections"/>, so none may exist. Was unlimited.
    /// </summary>
    public int MaxUpgradedConnections { get; init; }

    /// <summary>
    /// Longest a request head (request line and headers) may take to arrive, counted from its first byte; then the
    /// server answers 408 and closes the connection. Kestrel's default, kept: a connection that drips a byte every
    /// 20 s is closed after this.
    /// </summary>
    public TimeSpan RequestHeadersTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Longest a connection may stay open with no request in progress (before its first request too, and an HTTP/2
    /// connection with no stream open); then it is closed. Kestrel's default, kept: longer than the idle time (1 min) of
    /// the connection pools the mesh's own clients keep (the gateway's to its nodes, a node's to its gateways), so a
    /// server does not close a pooled connection its peer is about to reuse.
    /// </summary>
    public TimeSpan KeepAliveTimeout { get; init; } = TimeSpan.FromSeconds(130);

    /// <summary>Most bytes of a request's headers, all together (HTTP/1.1 and HTTP/2); beyond, 431. Kestrel's default, kept.</summary>
    public int MaxRequestHeadersTotalSize { get; init; } = 32 * 1024;

    /// <summary>Most headers in one request; beyond, 431. Kestrel's default, kept.</summary>
    public int MaxRequestHeaderCount { get; init; } = 100;

    /// <summary>
    /// Most bytes of the request line (method, target, version; on HTTP/2 the pseudo-headers); beyond, 414 (a target
    /// too long) or 400. Kestrel's default, kept: the longest InfraMind path (a model name of 63 characters and a
    /// SemVer version) is far below it.
    /// </summary>
    public int MaxRequestLineSize { get; init; } = 8 * 1024;

    /// <summary>
    /// Most bytes of a request body that no endpoint reads the body of (a body sent to GET /healthz, say: drained and
    /// dropped); beyond, the connection is closed. Every endpoint that reads a body sets its own, smaller cap for its
    /// request (the gateway's <c>MaxRequestBytes</c>, a node's <c>MaxJobBytes</c>, the registry's envelope cap) and
    /// gRPC bounds its messages itself. Kestrel's default, kept.
    /// </summary>
    public long MaxRequestBodySize { get; init; } = 30_000_000;

    /// <summary>
    /// Most bytes of request one HTTP/1.1 connection may have the server buffer before the application reads them;
    /// beyond, the server stops reading from the socket (back-pressure, not an error). Kestrel's default, kept.
    /// </summary>
    public long MaxRequestBufferSize { get; init; } = 1024 * 1024;

    /// <summary>
    /// Most bytes of answer the server buffers for a connection before its writes wait for the client to read.
    /// Kestrel's default, kept.
    /// </summary>
    public long MaxResponseBufferSize { get; init; } = 64 * 1024;

    /// <summary>
    /// Slowest a request body may arrive once its <see cref="MinDataRateGrace"/> has passed, in bytes per second;
    /// slower, the server answers 408 (if it can still answer) and closes the connection. Kestrel's default, kept.
    /// </summary>
    public double MinRequestBodyBytesPerSecond { get; init; } = 240;

    /// <summary>
    /// Slowest a client may read an answer, in bytes per second, once <see cref="MinDataRateGrace"/> has passed; slower,
    /// the connection is closed (a client that never reads cannot hold an answer's buffers). Kestrel's default, kept.
    /// </summary>
    public double MinResponseBytesPerSecond { get; init; } = 240;

    /// <summary>The grace period before the minimum data rates apply, from the first byte read or written. Kestrel's default, kept.</summary>
    public TimeSpan MinDataRateGrace { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// Most streams (requests) one HTTP/2 connection may have open at once, advertised in SETTINGS; a stream beyond is
    /// refused (RST_STREAM REFUSED_STREAM), the others go on. Kestrel's default, kept: above the gRPC ingress's health
    /// watches per connection (16).
    /// </summary>
    public int Http2MaxStreamsPerConnection { get; init; } = 100;

    /// <summary>
    /// Most bytes of one HTTP/2 header field (name or value, compressed or not); beyond, the connection is closed
    /// (COMPRESSION_ERROR). Kestrel's default (32 KiB), kept: the same as <see cref="MaxRequestHeadersTotalSize"/>, so a
    /// header HTTP/1.1 takes is taken over HTTP/2 too.
    /// </summary>
    public int Http2MaxRequestHeaderFieldSize { get; init; } = 32 * 1024;

    /// <summary>Bytes of HPACK's dynamic table per HTTP/2 connection. Kestrel's default, kept.</summary>
    public int Http2HeaderTableSize { get; init; } = 4096;

    /// <summary>Most bytes of one HTTP/2 frame's payload the server takes. Kestrel's default (the protocol's minimum), kept.</summary>
    public int Http2MaxFrameSize { get; init; } = 16 * 1024;

    /// <summary>
    /// Most request body bytes one HTTP/2 connection may send ahead of the application's reads, all its streams together
    /// (flow control: the client waits for window updates). Kestrel's default (1 MiB), kept: the same as
    /// <see cref="MaxRequestBufferSize"/> for an HTTP/1.1 connection, and the gateway's request cap (1 MiB).
    /// </summary>
    public int Http2InitialConnectionWindowSize { get; init; } = 1024 * 1024;

    /// <summary>
    /// Most request body bytes one HTTP/2 stream may send ahead of the application's reads; at most
    /// <see cref="Http2InitialConnectionWindowSize"/>. Kestrel's default (768 KiB), kept: below the gateway's request cap,
    /// so a ModelInfer message is read as it arrives rather than buffered whole first.
    /// </summary>
    public int Http2InitialStreamWindowSize { get; init; } = 768 * 1024;

    /// <summary>The limits every server applies unless its operator or a test says otherwise.</summary>
    public static ServerLimits Default { get; } = new();

    /// <summary>Every value that Kestrel would refuse, or that makes no sense, each with what it must be.</summary>
    public IReadOnlyList<string> Validate()
    {
        var errors = new List<string>();
        if (MaxConnections is < 1 or > MaxMaxConnections) errors.Add($"the most connections must be between 1 and {MaxMaxConnections} (got {MaxConnections})");
        if (MaxConnectionsPerAddress is < 1 or > MaxMaxConnections) errors.Add($"the most connections from one address must be between 1 and {MaxMaxConnections} (got {MaxConnectionsPerAddress})");
        if (MaxUpgradedConnections < 0) errors.Add("the most upgraded connections must be ≥ 0");
        if (RequestHeadersTimeout <= TimeSpan.Zero || KeepAliveTimeout <= TimeSpan.Zero) errors.Add("the request headers and keep-alive timeouts must be positive");
        if (MaxRequestHeadersTotalSize < 1 || MaxRequestHeaderCount < 1 || MaxRequestLineSize < 1) errors.Add("the header and request line limits must be ≥ 1");
        if (MaxRequestBodySize < 0 || MaxRequestBufferSize < 1 || MaxResponseBufferSize < 0) errors.Add("the body and buffer limits must be positive");
        if (MinRequestBodyBytesPerSecond <= 0 || MinResponseBytesPerSecond <= 0 || MinDataRateGrace <= TimeSpan.FromSeconds(1))
            errors.Add("the minimum data rates must be positive, their grace period more than 1 s (Kestrel checks them once a second)");
        if (Http2MaxStreamsPerConnection < 1 || Http2MaxRequestHeaderFieldSize < 1 || Http2HeaderTableSize < 0) errors.Add("the HTTP/2 stream and header limits must be ≥ 1");
        if (Http2MaxFrameSize is < 16 * 1024 or > (1 << 24) - 1) errors.Add("the HTTP/2 frame size must be between 16 KiB and 16 MiB - 1");
        if (Http2InitialConnectionWindowSize < 64 * 1024 || Http2InitialStreamWindowSize < 64 * 1024 || Http2InitialStreamWindowSize > Http2InitialConnectionWindowSize)
            errors.Add("the HTTP/2 windows must be at least 64 KiB, a stream's at most the connection's");
        return errors;
    }
}
