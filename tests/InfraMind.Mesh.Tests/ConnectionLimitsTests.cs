using System.Buffers.Binary;
using System.Diagnostics;
using System.Net.Sockets;
using System.Text;
using Grpc.Health.V1;
using Grpc.Net.Client;
using InfraMind.Containers;
using InfraMind.Gateway;
using InfraMind.Gateway.Catalog;
using InfraMind.Hosting;
using InfraMind.Node;
using InfraMind.Node.Images;
using InfraMind.Registry.Http;
using InfraMind.Serving;
using InfraMind.Testing;

namespace InfraMind.Mesh.Tests;

/// <summary>
/// What a hostile client's connections can hold on every InfraMind server, on real Kestrels over 127.0.0.1 sockets (the
/// gateway's REST API and its gRPC ingress, a node's job API, the registry), each started with small
/// <see cref="ServerLimits"/>: connections beyond the cap are closed at once while the held ones and later ones are
/// served; a request head that stops arriving, or arrives a byte at a time, is closed after the header timeout and an
/// idle connection after the keep-alive timeout; an HTTP/2 client that opens more streams than allowed on the gRPC
/// ingress has the excess refused. Before ServerLimits every server took any number of connections.
/// </summary>
public sealed class ConnectionLimitsTests
{
    private const int Cap = 8;

    private static readonly byte[] Http2Preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"u8.ToArray();

    /// <summary>The four servers, each with <paramref name="limits"/>; the node's gateway never answers (port 9: it keeps trying).</summary>
    private sealed class Servers : IAsyncDisposable
    {
        private readonly TempDirectory _dir = new("im-conn-limits");
        private ContainerEngine? _engine;

        public GatewayHost Gateway { get; private set; } = null!;

        public NodeHost Node { get; private set; } = null!;

        public RegistryServer Registry { get; private set; } = null!;

        /// <summary>Name and port of each HTTP/1.1 server.</summary>
        public IEnumerable<(string Name, int Port)> Http1 => [("gateway", Gateway.Url.Port), ("node", Node.Url.Port), ("registry", Registry.Address.Port)];

        public int GrpcPort => Gateway.GrpcUrl!.Port;

        public static async Task<Servers> StartAsync(ServerLimits limits)
        {
            var servers = new Servers();
            try
            {
                servers._engine = await TestEngine.ConnectAsync(needsBaseImage: false);
                servers.Gateway = await GatewayHost.StartAsync(new GatewayOptions { GrpcListenUrl = "http://127.0.0.1:0", Limits = limits }, new InMemoryModelCatalog(),
                    CancellationToken.None);
                var node = new NodeOptions
                {
                    NodeId = "conn-limits", Gateway = new Uri("http://127.0.0.1:9/"), Capacity = new NodeCapacity(4000, 8L << 30, 0), ListenUrl = "http://127.0.0.1:0", Limits = limits,
                };
                servers.Node = await NodeHost.StartAsync(node, servers._engine, new PackageDirectoryImageSource(servers._engine, new Dictionary<string, string>()), CancellationToken.None);
                servers.Registry = await RegistryServer.StartAsync(new RegistryServerOptions(servers._dir.Combine("registry"), "http://127.0.0.1:0") { Limits = limits },
                    CancellationToken.None);
                return servers;
            }
            catch
            {
                await servers.DisposeAsync();
                throw;
            }
        }

        public async ValueTask DisposeAsync()
        {
            if (Registry is not null) await Registry.DisposeAsync();
            if (Node is not null) await Node.DisposeAsync();
            if (Gateway is not null) await Gateway.DisposeAsync();
            _engine?.Dispose();
            _dir.Dispose();
        }
    }

    /// <summary>A connection to 127.0.0.1:<paramref name="port"/>, from <paramref name="from"/> (a loopback address; null: the kernel's choice, 127.0.0.1).</summary>
    private static async Task<Socket> ConnectAsync(int port, string? from = null)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        if (from is not null) socket.Bind(new System.Net.IPEndPoint(System.Net.IPAddress.Parse(from), 0));
        await socket.ConnectAsync("127.0.0.1", port);
        return socket;
    }

    /// <summary>What the server sends before it closes the connection (empty: closed without a byte), and when it closed; null when still open at <paramref name="within"/>.</summary>
    private static async Task<(byte[] Sent, TimeSpan After)?> ClosedAsync(Socket socket, TimeSpan within)
    {
        var clock = Stopwatch.StartNew();
        using var cut = new CancellationTokenSource(within);
        var sent = new MemoryStream();
        var buffer = new byte[4096];
        try
        {
            while (true)
            {
                var n = await socket.ReceiveAsync(buffer, SocketFlags.None, cut.Token);
                if (n == 0) return (sent.ToArray(), clock.Elapsed);
                sent.Write(buffer, 0, n);
            }
        }
        catch (OperationCanceledException)
        {
            return null;
        }
        catch (SocketException e) when (e.SocketErrorCode is SocketError.ConnectionReset)
        {
            return (sent.ToArray(), clock.Elapsed);
        }
    }

    /// <summary>The status line of the answer to GET /healthz on an open HTTP/1.1 connection, whose answer is read whole (the connection can take another).</summary>
    private static async Task<string> GetAsync(Socket socket, string? header = null)
    {
        await socket.SendAsync(Encoding.ASCII.GetBytes($"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n{(header is null ? "" : header + "\r\n")}\r\n"), SocketFlags.None);
        var answer = new StringBuilder();
        var buffer = new byte[4096];
        using var cut = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        while (!Complete(answer.ToString()))
        {
            var n = await socket.ReceiveAsync(buffer, SocketFlags.None, cut.Token);
            if (n == 0) break;
            answer.Append(Encoding.ASCII.GetString(buffer, 0, n));
        }

        return answer.ToString().Split("\r\n")[0];

        static bool Complete(string text)
        {
            var end = text.IndexOf("\r\n\r\n", StringComparison.Ordinal);
            if (end < 0) return false;
            var head = text[..end];
            var length = head.Split("\r\n").FirstOrDefault(l => l.StartsWith("Content-Length:", StringComparison.OrdinalIgnoreCase));
            return length is not null
                ? text.Length - end - 4 >= int.Parse(length["Content-Length:".Length..].Trim(), System.Globalization.CultureInfo.InvariantCulture)
                : !head.Contains("chunked", StringComparison.OrdinalIgnoreCase) || text.EndsWith("\r\n0\r\n\r\n", StringComparison.Ordinal);
        }
    }

    /// <summary>An HTTP/2 frame: type, flags, stream, payload.</summary>
    private sealed record Frame(byte Type, byte Flags, int Stream, byte[] Payload);

    private static byte[] FrameBytes(byte type, byte flags, int stream, ReadOnlySpan<byte> payload)
    {
        var frame = new byte[9 + payload.Length];
        frame[0] = (byte)(payload.Length >> 16);
        frame[1] = (byte)(payload.Length >> 8);
        frame[2] = (byte)payload.Length;
        frame[3] = type;
        frame[4] = flags;
        BinaryPrimitives.WriteInt32BigEndian(frame.AsSpan(5), stream);
        payload.CopyTo(frame.AsSpan(9));
        return frame;
    }

    private static async Task<Frame?> ReadFrameAsync(NetworkStream stream, CancellationToken ct)
    {
        var head = new byte[9];
        try
        {
            await stream.ReadExactlyAsync(head, ct);
        }
        catch (EndOfStreamException)
        {
            return null;
        }

        var payload = new byte[(head[0] << 16) | (head[1] << 8) | head[2]];
        await stream.ReadExactlyAsync(payload, ct);
        return new Frame(head[3], head[4], BinaryPrimitives.ReadInt32BigEndian(head.AsSpan(5)) & 0x7fffffff, payload);
    }

    /// <summary>HPACK: each field a literal without indexing, new name, no Huffman (every name and value here is under 127 bytes).</summary>
    private static byte[] HeaderBlock(params (string Name, string Value)[] fields)
    {
        var block = new MemoryStream();
        foreach (var (name, value) in fields)
        {
            block.WriteByte(0);
            block.WriteByte((byte)name.Length);
            block.Write(Encoding.ASCII.GetBytes(name));
            block.WriteByte((byte)value.Length);
            block.Write(Encoding.ASCII.GetBytes(value));
        }

        return block.ToArray();
    }

    /// <summary>Whether the gRPC ingress speaks HTTP/2 on this connection: its SETTINGS answer our preface.</summary>
    private static async Task<bool> SpeaksHttp2Async(Socket socket)
    {
        await using var stream = new NetworkStream(socket, ownsSocket: false);
        await stream.WriteAsync(Http2Preface.Concat(FrameBytes(4, 0, 0, [])).ToArray());
        using var cut = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        try
        {
            return await ReadFrameAsync(stream, cut.Token) is { Type: 4 };
        }
        catch (IOException)
        {
            return false;
        }
    }

    /// <summary>Whether an HTTP/2 connection past its preface still answers a PING.</summary>
    private static async Task<bool> PingedAsync(Socket socket)
    {
        await using var stream = new NetworkStream(socket, ownsSocket: false);
        await stream.WriteAsync(FrameBytes(6, 0, 0, new byte[8]));
        using var cut = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        try
        {
            while (await ReadFrameAsync(stream, cut.Token) is { } frame)
            {
                if (frame is { Type: 6, Flags: 1 }) return true;
            }

            return false;
        }
        catch (IOException)
        {
            return false;
        }
    }

    [SkippableFact]
    public async Task Connections_beyond_the_cap_are_closed_at_once_and_the_held_ones_and_later_ones_are_served()
    {
        await using var servers = await Servers.StartAsync(ServerLimits.Default with { MaxConnections = Cap });
        foreach (var (name, port) in servers.Http1.Append(("gRPC ingress", servers.GrpcPort)))
        {
            var http2 = port == servers.GrpcPort;
            var held = new List<Socket>();
            try
            {
                // The cap's worth, each served once (so the server has counted it: it takes connections in any order).
                for (var i = 0; i < Cap; i++)
                {
                    held.Add(await ConnectAsync(port));
                    if (http2) Assert.True(await SpeaksHttp2Async(held[^1]), $"{name}: connection {i + 1} of {Cap} was not served");
                    else Assert.StartsWith("HTTP/1.1 ", await GetAsync(held[^1]), StringComparison.Ordinal);
                }

                // One more, from another address (127.0.0.3, which holds none): the kernel completes its handshake, Kestrel
                // closes it as soon as it accepts it, without a byte. Only the total cap can refuse it; from 127.0.0.1, the
                // per-address cap (at most the total, so here 8 as well) would have refused it with the total cap gone.
                using (var over = await ConnectAsync(port, "127.0.0.3"))
                {
                    // Closed at accept, not at the 30 s head timeout; 10 s leaves a loaded machine's accept loop room.
                    var closed = await ClosedAsync(over, TimeSpan.FromSeconds(10));
                    Assert.True(closed is not null, $"{name}: connection {Cap + 1} of a cap of {Cap} was still open after 10 s");
                    Assert.Empty(closed.Value.Sent);
                }

                // Every held connection is served still.
                foreach (var socket in held)
                {
                    if (http2) Assert.True(await PingedAsync(socket), $"{name}: a held connection was not served after the cap was reached");
                    else Assert.StartsWith("HTTP/1.1 ", await GetAsync(socket), StringComparison.Ordinal);
                }

                // Half of them leave: as many new ones are served (once the server has seen them close), and the cap holds again after.
                foreach (var socket in held.Take(Cap / 2)) socket.Dispose();
                held.RemoveRange(0, Cap / 2);
                var clock = Stopwatch.StartNew();
                while (held.Count < Cap)
                {
                    var fresh = await ConnectAsync(port);
                    var served = http2 ? await SpeaksHttp2Async(fresh) : await ServedAsync(fresh);
                    if (served) held.Add(fresh);
                    else fresh.Dispose();
                    Assert.True(clock.Elapsed < TimeSpan.FromSeconds(10), $"{name}: only {held.Count} of {Cap} connections served 10 s after {Cap / 2} closed");
                }

                using var again = await ConnectAsync(port, "127.0.0.3");
                Assert.True(await ClosedAsync(again, TimeSpan.FromSeconds(5)) is { Sent.Length: 0 }, $"{name}: the cap did not hold after connections came and went");
            }
            finally
            {
                foreach (var socket in held) socket.Dispose();
            }
        }
    }

    /// <summary>
    /// One address cannot take every connection: with a cap of 3 per address (of 8 in all), the fourth connection from
    /// 127.0.0.1 is closed unread while connections from 127.0.0.2 (another client, as Linux routes all of 127/8 to
    /// loopback) are served, and 127.0.0.1 is served again once one of its own closes. Before the per-address cap one
    /// address held all 8.
    /// </summary>
    [SkippableFact]
    public async Task One_address_holds_at_most_its_share_and_other_addresses_are_served()
    {
        const int PerAddress = 3;
        await using var servers = await Servers.StartAsync(ServerLimits.Default with { MaxConnections = Cap, MaxConnectionsPerAddress = PerAddress });
        foreach (var (name, port) in servers.Http1.Append(("gRPC ingress", servers.GrpcPort)))
        {
            var http2 = port == servers.GrpcPort;
            var held = new List<Socket>();
            async Task<bool> Served(Socket socket) => http2 ? await SpeaksHttp2Async(socket) : await ServedAsync(socket);
            try
            {
                for (var i = 0; i < PerAddress; i++)
                {
                    held.Add(await ConnectAsync(port, "127.0.0.1"));
                    Assert.True(await Served(held[^1]), $"{name}: connection {i + 1} of {PerAddress} from 127.0.0.1 was not served");
                }

                using (var over = await ConnectAsync(port, "127.0.0.1"))
                {
                    var closed = await ClosedAsync(over, TimeSpan.FromSeconds(5));
                    Assert.True(closed is not null, $"{name}: connection {PerAddress + 1} from one address (a cap of {PerAddress}) was still open after 5 s");
                    Assert.Empty(closed.Value.Sent);
                }

                for (var i = 0; i < PerAddress; i++)
                {
                    held.Add(await ConnectAsync(port, "127.0.0.2"));
                    Assert.True(await Served(held[^1]), $"{name}: connection {i + 1} from 127.0.0.2 was not served while 127.0.0.1 held its {PerAddress}");
                }

                using (var over = await ConnectAsync(port, "127.0.0.2"))
                    Assert.True(await ClosedAsync(over, TimeSpan.FromSeconds(5)) is { Sent.Length: 0 }, $"{name}: 127.0.0.2 got more than {PerAddress} connections");

                // One of 127.0.0.1's leaves: 127.0.0.1 is served again (once the server has seen it close).
                held[0].Dispose();
                held.RemoveAt(0);
                var clock = Stopwatch.StartNew();
                while (true)
                {
                    var fresh = await ConnectAsync(port, "127.0.0.1");
                    if (await Served(fresh))
                    {
                        held.Add(fresh);
                        break;
                    }

                    fresh.Dispose();
                    Assert.True(clock.Elapsed < TimeSpan.FromSeconds(10), $"{name}: 127.0.0.1 not served again 10 s after one of its connections closed");
                }
            }
            finally
            {
                foreach (var socket in held) socket.Dispose();
            }
        }

        // Each server's /metrics counts what it refused, at which cap (scraped from a third address, 127.0.0.3).
        foreach (var (server, metrics) in new[]
        {
            ("gateway", new Uri(servers.Gateway.Url, "metrics")), ("grpc-ingress", new Uri(servers.Gateway.Url, "metrics")),
            ("node", new Uri(servers.Node.Url, "metrics")), ("registry", new Uri(servers.Registry.Address, "metrics")),
        })
        {
            var text = await ScrapeAsync(metrics);
            Assert.True(PrometheusText.Value(text, $"inframind_connections_refused_total{{server=\"{server}\",cap=\"address\"}}") >= 2,
                $"{server}: refused connections not counted at the address cap:\n{text}");
            Assert.Equal(0, PrometheusText.Value(text, $"inframind_connections_refused_total{{server=\"{server}\",cap=\"all\"}}"));
            Assert.Equal(PerAddress, PrometheusText.Value(text, $"inframind_connections_limit{{server=\"{server}\",scope=\"address\"}}"));
            Assert.Equal(Cap, PrometheusText.Value(text, $"inframind_connections_limit{{server=\"{server}\",scope=\"all\"}}"));
        }
    }

    /// <summary>GET <paramref name="url"/> from 127.0.0.3, the text it answers.</summary>
    private static async Task<string> ScrapeAsync(Uri url)
    {
        using var http = new HttpClient(new SocketsHttpHandler
        {
            UseProxy = false,
            ConnectCallback = async (context, ct) => new NetworkStream(await ConnectAsync(context.DnsEndPoint.Port, "127.0.0.3"), ownsSocket: true),
        });
        return await http.GetStringAsync(url);
    }

    /// <summary>An HTTP/1.1 answer on a new connection; false when the server closed it instead.</summary>
    private static async Task<bool> ServedAsync(Socket socket)
    {
        try
        {
            return (await GetAsync(socket)).StartsWith("HTTP/1.1 ", StringComparison.Ordinal);
        }
        catch (SocketException)
        {
            return false;
        }
    }

    /// <summary>
    /// A request head is held to ServerLimits.MaxRequestHeadersTotalSize (32 KiB) on every HTTP/1.1 server: a head of
    /// 40 KiB (one long header) is a 431 before anything routes it, one of 30 KiB is routed as any request.
    /// </summary>
    [SkippableFact]
    public async Task A_request_head_over_its_size_limit_is_431_and_one_within_is_routed()
    {
        await using var servers = await Servers.StartAsync(ServerLimits.Default);
        Assert.Equal(32 * 1024, ServerLimits.Default.MaxRequestHeadersTotalSize);
        foreach (var (name, port) in servers.Http1)
        {
            using (var within = await ConnectAsync(port))
            {
                // Routed as any request (the registry has no /healthz: its 404), never refused for its size.
                var served = await GetAsync(within, "X-Pad: " + new string('a', 30 * 1024));
                Assert.True(served is "HTTP/1.1 200 OK" or "HTTP/1.1 404 Not Found", $"{name}: a 30 KiB request head was answered {served}");
            }

            using var over = await ConnectAsync(port);
            var status = await GetAsync(over, "X-Pad: " + new string('a', 40 * 1024));
            Assert.True(status.StartsWith("HTTP/1.1 431 ", StringComparison.Ordinal), $"{name}: a 40 KiB request head was answered {status}");
        }
    }

    [SkippableFact]
    public async Task A_request_head_that_stops_or_drips_is_closed_after_the_header_timeout_and_an_idle_connection_after_keep_alive()
    {
        var limits = ServerLimits.Default with { RequestHeadersTimeout = TimeSpan.FromSeconds(1), KeepAliveTimeout = TimeSpan.FromSeconds(2) };
        await using var servers = await Servers.StartAsync(limits);
        var checks = servers.Http1.SelectMany(server => new[]
        {
            CheckAsync(server.Name, server.Port, "a partial head", async s => await s.SendAsync("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n"u8.ToArray(), SocketFlags.None),
                limits.RequestHeadersTimeout, Answer.Status408),
            CheckAsync(server.Name, server.Port, "a head sent a byte every 300 ms", async s =>
            {
                // A byte every 300 ms: well within any per-read timeout, but the head never completes within 1 s.
                _ = Task.Run(async () =>
                {
                    try
                    {
                        foreach (var b in "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: "u8.ToArray().Concat(Enumerable.Repeat((byte)'a', 100)))
                        {
                            await s.SendAsync(new[] { b }, SocketFlags.None);
                            await Task.Delay(300);
                        }
                    }
                    catch (Exception e) when (e is SocketException or ObjectDisposedException)
                    {
                        // Closed by the server (or the test): what is checked.
                    }
                });
                await Task.CompletedTask;
            }, limits.RequestHeadersTimeout, Answer.Status408),
            CheckAsync(server.Name, server.Port, "an idle connection", _ => Task.CompletedTask, limits.KeepAliveTimeout, Answer.Nothing),
        }).Append(CheckAsync("gRPC ingress", servers.GrpcPort, "an idle connection", _ => Task.CompletedTask, limits.KeepAliveTimeout, Answer.GoAway));
        await Task.WhenAll(checks);
    }

    /// <summary>What a server sends a connection it closes for a timeout.</summary>
    private enum Answer
    {
        /// <summary>HTTP/1.1 with a request begun: a 408 answer.</summary>
        Status408,

        /// <summary>HTTP/1.1 with no request begun: not a byte.</summary>
        Nothing,

        /// <summary>HTTP/2: a GOAWAY frame (NO_ERROR).</summary>
        GoAway,
    }

    /// <summary>A connection that does <paramref name="send"/> and no more is closed after <paramref name="timeout"/> (Kestrel looks once a second), not before.</summary>
    private static async Task CheckAsync(string server, int port, string what, Func<Socket, Task> send, TimeSpan timeout, Answer expected)
    {
        using var socket = await ConnectAsync(port);
        await send(socket);
        var closed = await ClosedAsync(socket, timeout + TimeSpan.FromSeconds(8));
        Assert.True(closed is not null, $"{server}: {what} was still open {timeout + TimeSpan.FromSeconds(8)} after it began; its timeout is {timeout}");
        Assert.True(closed.Value.After >= timeout - TimeSpan.FromMilliseconds(100), $"{server}: {what} was closed after {closed.Value.After}, before its timeout of {timeout}");
        var sent = closed.Value.Sent;
        switch (expected)
        {
            case Answer.Status408:
                Assert.StartsWith("HTTP/1.1 408 ", Encoding.ASCII.GetString(sent), StringComparison.Ordinal);
                break;
            case Answer.Nothing:
                Assert.Empty(sent);
                break;
            default:
                // One frame: GOAWAY (0x7) on stream 0, last stream 0, NO_ERROR.
                Assert.Equal(FrameBytes(7, 0, 0, new byte[8]), sent);
                break;
        }
    }

    [Fact]
    public async Task An_http2_client_opening_more_streams_than_allowed_on_the_grpc_ingress_has_the_excess_refused()
    {
        const int streams = 4;
        await using var gateway = await GatewayHost.StartAsync(
            new GatewayOptions { GrpcListenUrl = "http://127.0.0.1:0", Limits = ServerLimits.Default with { Http2MaxStreamsPerConnection = streams } },
            new InMemoryModelCatalog(), CancellationToken.None);
        using var socket = await ConnectAsync(gateway.GrpcUrl!.Port);
        await using var stream = new NetworkStream(socket, ownsSocket: false);
        using var cut = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        await stream.WriteAsync(Http2Preface.Concat(FrameBytes(4, 0, 0, [])).ToArray(), cut.Token);
        var settings = await ReadFrameAsync(stream, cut.Token);
        Assert.Equal(4, settings!.Type);
        // SETTINGS_MAX_CONCURRENT_STREAMS (0x3) is what the server advertises.
        var advertised = Enumerable.Range(0, settings.Payload.Length / 6)
            .Select(i => (Id: BinaryPrimitives.ReadUInt16BigEndian(settings.Payload.AsSpan(i * 6)), Value: BinaryPrimitives.ReadUInt32BigEndian(settings.Payload.AsSpan(i * 6 + 2))))
            .ToDictionary(p => p.Id, p => p.Value);
        Assert.Equal((uint)streams, advertised[3]);
        await stream.WriteAsync(FrameBytes(4, 1, 0, []), cut.Token);

        // A hostile client ignores it: 3 × the limit of health checks whose request message never comes (each holds its stream open).
        var block = HeaderBlock((":method", "POST"), (":scheme", "http"), (":path", "/grpc.health.v1.Health/Check"), (":authority", $"127.0.0.1:{gateway.GrpcUrl.Port}"),
            ("content-type", "application/grpc"), ("te", "trailers"));
        var opened = Enumerable.Range(0, 3 * streams).Select(i => 1 + 2 * i).ToList();
        foreach (var id in opened) await stream.WriteAsync(FrameBytes(1, 4, id, block), cut.Token);

        // Each stream beyond the limit is reset REFUSED_STREAM (0x7); those within it are not.
        var refused = new HashSet<int>();
        using var quiet = CancellationTokenSource.CreateLinkedTokenSource(cut.Token);
        quiet.CancelAfter(TimeSpan.FromSeconds(3));
        try
        {
            while (refused.Count < opened.Count - streams && await ReadFrameAsync(stream, quiet.Token) is { } frame)
            {
                if (frame.Type == 3) // RST_STREAM
                {
                    Assert.Equal(7u, BinaryPrimitives.ReadUInt32BigEndian(frame.Payload));
                    refused.Add(frame.Stream);
                }
            }
        }
        catch (OperationCanceledException) when (quiet.IsCancellationRequested && !cut.IsCancellationRequested)
        {
            // Nothing more within 3 s.
        }

        Assert.Equal(opened.Skip(streams), refused.Order());
        // The server goes on serving, this connection's streams within the limit and new callers.
        using var channel = GrpcChannel.ForAddress(gateway.GrpcUrl);
        var health = await new Health.HealthClient(channel).CheckAsync(new HealthCheckRequest(), cancellationToken: cut.Token);
        Assert.Equal(HealthCheckResponse.Types.ServingStatus.Serving, health.Status);
    }
}
