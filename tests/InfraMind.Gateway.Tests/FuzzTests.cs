using System.Collections.Concurrent;
using System.Net.Sockets;
using System.Text;
using InfraMind.Gateway.Catalog;
using InfraMind.Serving;
using Xunit.Abstractions;

namespace InfraMind.Gateway.Tests;

/// <summary>
/// The gateway fuzzed over real sockets: 3,000 seeded requests, malformed, oversized, truncated, chunked, deeply nested,
/// badly encoded, with odd methods, paths and headers. Never a 5xx, never a hang (10 s per request), and a valid
/// request is still answered afterwards. Bounded: one run takes seconds; the seed makes any failure reproducible.
/// </summary>
[Collection(BoundaryCollection.Name)]
[System.Diagnostics.CodeAnalysis.SuppressMessage("Design", "CA1001", Justification = "The gateway and the node are disposed by IAsyncLifetime.DisposeAsync.")]
public sealed class FuzzTests(ITestOutputHelper output) : IAsyncLifetime
{
    private const int Requests = 3000;
    private const int Seed = 20260113;
    private static readonly TimeSpan PerRequest = TimeSpan.FromSeconds(10);
    private readonly InMemoryModelCatalog _catalog = new();
    private readonly string _token = MeshToken.Create();
    private GatewayHost _gateway = null!;
    private FakeNode _node = null!;

    public async Task InitializeAsync()
    {
        _catalog.Publish(MeshStateTests.Served("1.0.0").Published);
        // An attempt may take most of a request's time (PerRequest bounds a hang): a valid request that a loaded machine
        // slowed past a short attempt limit would be a 502 the fuzzing did not cause.
        _gateway = await GatewayHost.StartAsync(new GatewayOptions { NodeToken = _token, Replicas = 1, AttemptTimeout = TimeSpan.FromSeconds(8) }, _catalog, CancellationToken.None);
        _node = new FakeNode(_gateway.Url, _token);
        using (var r = await _node.RegisterAsync("fake")) r.EnsureSuccessStatusCode();
        await _node.ReadyAsync("fake");
    }

    public async Task DisposeAsync()
    {
        await _node.DisposeAsync();
        await _gateway.DisposeAsync();
    }

    [Fact]
    public async Task Thousands_of_hostile_requests_get_no_5xx_no_hang_and_a_valid_request_still_succeeds()
    {
        // The node stays online whatever the run's length: it heartbeats as a node does.
        using var beating = new CancellationTokenSource();
        var beats = Task.Run(async () =>
        {
            while (!beating.IsCancellationRequested)
            {
                await _node.ReadyAsync("fake");
                await Task.Delay(TimeSpan.FromSeconds(5), beating.Token).ContinueWith(_ => { }, TaskScheduler.Default);
            }
        });
        var outcomes = new ConcurrentDictionary<string, int>();
        var failures = new ConcurrentQueue<string>();
        await Parallel.ForEachAsync(Enumerable.Range(0, Requests), new ParallelOptions { MaxDegreeOfParallelism = 4 }, async (i, ct) =>
        {
            var random = new Random(Seed + i);
            var (kind, request) = Generate(random);
            // A truncated body is one whose sender stops: the client half-closes after it.
            var status = await SendAsync(request, halfClose: kind is "short body" or "garbage");
            outcomes.AddOrUpdate($"{kind} → {status}", 1, (_, n) => n + 1);
            // 505 is HTTP's own answer to a request line naming HTTP/9.9, given by Kestrel's parser before any of the
            // gateway's code: a statement about the protocol, not a server failure. Every other 5xx is one.
            if (status is "timeout" || (int.TryParse(status, out var code) && code >= 500 && !(code == 505 && kind == "garbage")))
                failures.Enqueue($"#{i} {kind}: {status}");
        });
        foreach (var (outcome, count) in outcomes.OrderBy(o => o.Key, StringComparer.Ordinal)) output.WriteLine($"{count,5}  {outcome}");
        Assert.True(failures.IsEmpty, $"{failures.Count} of {Requests} failed (seed {Seed}): {string.Join("; ", failures.Take(10))}");
        Assert.Equal(Requests, outcomes.Values.Sum());
        Assert.Contains(outcomes.Keys, k => k.EndsWith("→ 200", StringComparison.Ordinal));

        var after = await SendAsync(Request("POST", "/inference/v1/echo", Encoding.UTF8.GetBytes("""{"text": "still here"}""")));
        Assert.Equal("200", after);
        await beating.CancelAsync();
        await beats;
    }

    private static byte[] Request(string method, string path, byte[]? body, string contentType = "application/json", string? extraHeaders = null, bool chunked = false)
    {
        var head = new StringBuilder($"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n");
        if (contentType.Length > 0) head.Append($"Content-Type: {contentType}\r\n");
        if (extraHeaders is not null) head.Append(extraHeaders);
        if (body is not null && !chunked) head.Append($"Content-Length: {body.Length}\r\n");
        if (chunked) head.Append("Transfer-Encoding: chunked\r\n");
        head.Append("\r\n");
        var bytes = Encoding.UTF8.GetBytes(head.ToString());
        return body is null ? bytes : [.. bytes, .. body];
    }

    private static (string Kind, byte[] Request) Generate(Random r)
    {
        var valid = $$"""{"text": "{{new string('x', r.Next(0, 50))}}"}""";
        switch (r.Next(14))
        {
            case 0:
                return ("valid", Request("POST", "/inference/v1/echo", Encoding.UTF8.GetBytes(valid)));
            case 1:
                return ("random bytes", Request("POST", "/inference/v1/echo", Bytes(r, r.Next(0, 2000))));
            case 2:
                var json = Encoding.UTF8.GetBytes(valid);
                return ("truncated json", Request("POST", "/inference/v1/echo", json[..r.Next(0, json.Length)]));
            case 3:
                var bad = Encoding.UTF8.GetBytes(valid).ToList();
                bad.Insert(Math.Min(bad.Count - 2, 10 + r.Next(0, 5)), (byte)r.Next(0x80, 0x100));
                return ("bad utf-8", Request("POST", "/inference/v1/echo", [.. bad]));
            case 4:
                var depth = r.Next(1, 400);
                var open = r.Next(2) == 0 ? "[" : "{\"a\":";
                var close = open == "[" ? "]" : "}";
                return ("nested", Request("POST", "/inference/v1/echo",
                    Encoding.UTF8.GetBytes("{\"text\":\"x\",\"d\":" + string.Concat(Enumerable.Repeat(open, depth)) + "1" + string.Concat(Enumerable.Repeat(close, depth)) + "}")));
            case 5:
                return r.Next(20) == 0
                    ? ("oversized", Request("POST", "/inference/v1/echo", Encoding.UTF8.GetBytes("{\"text\":\"" + new string('a', 1_100_000) + "\"}")))
                    : ("odd json", Request("POST", "/inference/v1/echo", Encoding.UTF8.GetBytes(OddJson[r.Next(OddJson.Length)])));
            case 6:
                var body = Encoding.UTF8.GetBytes(valid);
                var chunks = r.Next(3) switch
                {
                    0 => $"{body.Length:x}\r\n{Encoding.UTF8.GetString(body)}\r\n0\r\n\r\n",
                    1 => $"{body.Length + 5:x}\r\n{Encoding.UTF8.GetString(body)}\r\n0\r\n\r\n",
                    _ => $"zz\r\n{Encoding.UTF8.GetString(body)}\r\n",
                };
                return ("chunked", Request("POST", "/inference/v1/echo", Encoding.UTF8.GetBytes(chunks), chunked: true));
            case 7:
                var declared = Request("POST", "/inference/v1/echo", null, extraHeaders: $"Content-Length: {r.Next(10, 5000)}\r\n");
                return ("short body", [.. declared, .. Encoding.UTF8.GetBytes("{\"text\"")]);
            case 8:
                return ("method", Request(Methods[r.Next(Methods.Length)], Paths[r.Next(Paths.Length)], r.Next(2) == 0 ? null : Encoding.UTF8.GetBytes(valid)));
            case 9:
                return ("path", Request("POST", Paths[r.Next(Paths.Length)] + (r.Next(3) == 0 ? "/" + new string('p', r.Next(1, 9000)) : ""), Encoding.UTF8.GetBytes(valid)));
            case 10:
                return ("content type", Request("POST", "/inference/v1/echo", Encoding.UTF8.GetBytes(valid), ContentTypes[r.Next(ContentTypes.Length)]));
            case 11:
                return ("headers", Request("POST", "/inference/v1/echo", Encoding.UTF8.GetBytes(valid), extraHeaders: Headers[r.Next(Headers.Length)]));
            case 12:
                return ("garbage", r.Next(2) == 0 ? Bytes(r, r.Next(1, 300)) : Encoding.ASCII.GetBytes(Garbage[r.Next(Garbage.Length)]));
            default:
                return ("node api", Request("POST", r.Next(2) == 0 ? "/mesh/v1/nodes" : "/mesh/v1/nodes/fake/heartbeat", Bytes(r, r.Next(0, 500)),
                    extraHeaders: r.Next(2) == 0 ? $"Authorization: Bearer {new string('t', 20)}\r\n" : null));
        }
    }

    private static readonly string[] OddJson =
    [
        """{"text": "\ud800"}""", """{"text": "a", "text": "b"}""", """{"text": 1e400}""", """{"text": "x", "n": 1e400}""", """{"text": "x", "n": -0}""",
        """{"text": "x", "n": 123456789012345678901234567890}""", """{"text": "\u0000"}""", """{"text": "x",}""", """{"text": "x"} {"text": "y"}""", "null", "[]", "\"\"",
        """{"text": "x"/*c*/}""", "\uFEFF{\"text\": \"bom\"}", """{"text": "\udfff\ud800"}""", """{"\ud800": 1, "text": "x"}""",
    ];

    private static readonly string[] Methods = ["GET", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "HEAD", "FOO", "CONNECT"];

    private static readonly string[] Paths =
    [
        "/inference/v1/echo", "/inference/v1/echo/versions/1.0.0", "/inference/v1/echo/versions/%00", "/inference/v1/%2e%2e", "/inference/v1/..%2f..%2fetc",
        "/inference/v1/échø", "/inference/v1/echo/versions/99999999999999999999.0.0", "/inference/v1", "/healthz", "/metrics", "/", "/nope", "//",
        "/inference/v1/echo/openapi.json?version=%ff", "/mesh/v1/nodes/%2f/heartbeat", "*",
    ];

    private static readonly string[] ContentTypes =
    [
        "", "text/plain", "application/json; charset=latin1", "application/json; charset=utf-16", "application/vnd.x+json", "garbage;;;==",
        "application/json, text/plain", "multipart/form-data; boundary=x",
    ];

    private static readonly string[] Headers =
    [
        "Content-Length: 5\r\n", "Transfer-Encoding: chunked\r\n", "Expect: 100-continue\r\n", "X-Big: " + new string('h', 40_000) + "\r\n",
        "Content-Encoding: gzip\r\n", "Host: other\r\n", "InfraMind-Node-Credential: x\r\n", "Bad Header: x\r\n", "X-Ctl: \u0001\r\n",
        string.Concat(Enumerable.Range(0, 200).Select(i => $"X-{i}: v\r\n")),
    ];

    private static readonly string[] Garbage =
    [
        "GARBAGE\r\n\r\n", "GET /\r\n\r\n", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "POST /inference/v1/echo HTTP/9.9\r\n\r\n",
        "POST /inference/v1/echo HTTP/1.1\r\n\r\n", "\r\n\r\n\r\n", "POST " + new string('/', 20_000) + " HTTP/1.1\r\nHost: x\r\n\r\n",
    ];

    private static byte[] Bytes(Random r, int n)
    {
        var b = new byte[n];
        r.NextBytes(b);
        return b;
    }

    /// <summary>The status the gateway answered, "closed" when it closed without one, "timeout" when nothing came in time.</summary>
    private async Task<string> SendAsync(byte[] request, bool halfClose = false)
    {
        using var client = new TcpClient();
        using var limit = new CancellationTokenSource(PerRequest);
        try
        {
            await client.ConnectAsync(_gateway.Url.Host, _gateway.Url.Port, limit.Token);
            var stream = client.GetStream();
            try
            {
                await stream.WriteAsync(request, limit.Token);
                if (halfClose) client.Client.Shutdown(SocketShutdown.Send);
            }
            catch (IOException)
            {
                // The gateway stopped reading (an over-limit body): its answer may still be there.
            }

            var buffer = new byte[4096];
            var head = new MemoryStream();
            int read;
            while (head.Length < 16 && (read = await stream.ReadAsync(buffer, limit.Token)) > 0) head.Write(buffer, 0, read);
            var line = Encoding.ASCII.GetString(head.ToArray());
            return line.StartsWith("HTTP/1.1 ", StringComparison.Ordinal) && line.Length >= 12 ? line[9..12] : "closed";
        }
        catch (OperationCanceledException)
        {
            return "timeout";
        }
        catch (Exception e) when (e is IOException or SocketException)
        {
            return "closed";
        }
    }
}
