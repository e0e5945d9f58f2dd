using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Text;
using System.Text.Json.Nodes;
using InfraMind.Serving;

namespace InfraMind.Gateway.Tests;

/// <summary>One job as the fake node's job API received it (<paramref name="At"/>: when, a <see cref="System.Diagnostics.Stopwatch"/> timestamp).</summary>
internal sealed record ReceivedJob(string Path, string? Authorization, byte[] Body, string? RequestId = null, string? QueueWaitMs = null, long At = 0);

/// <summary>
/// A node played by the test over real sockets: it registers with a real gateway (mesh token), heartbeats with the
/// credential it got, and answers jobs on its own raw HTTP/1.1 listener as <see cref="Answer"/> says (so a test can
/// declare a length and send nothing, or stream far past any limit). It records every job it receives.
/// </summary>
internal sealed class FakeNode : IAsyncDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _accept;
    private readonly HttpClient _gateway;
    private readonly Uri _gatewayUrl;
    private long _lastSigned;

    public FakeNode(Uri gateway, string? meshToken)
    {
        _gatewayUrl = gateway;
        _listener.Start();
        _accept = Task.Run(AcceptAsync);
        _gateway = new HttpClient(new SocketsHttpHandler { UseProxy = false }) { BaseAddress = gateway, Timeout = TimeSpan.FromSeconds(30) };
        MeshToken.Authorize(_gateway.DefaultRequestHeaders, meshToken);
    }

    public Uri Address => new($"{(Tls is null ? "http" : "https")}://127.0.0.1:{((IPEndPoint)_listener.LocalEndpoint).Port}/");

    /// <summary>The certificate the job API serves TLS with (null: plain HTTP).</summary>
    public System.Security.Cryptography.X509Certificates.X509Certificate2? Tls { get; init; }

    /// <summary>The fingerprint the registration pins (default: <see cref="Tls"/>'s); a test registers another to play an impostor.</summary>
    public string? TlsPin { get; init; }

    /// <summary>TLS handshakes the job API was asked for (whether they passed or not).</summary>
    public int Handshakes;

    public string? Credential { get; private set; }

    /// <summary>The node's key: with one, it registers its public key and signs registrations and heartbeats (none: neither).</summary>
    public InfraMind.Signing.SigningKey? Key { get; init; }

    /// <summary>
    /// How a job is answered when set (overrides <see cref="Answer"/>): sees the job (its request id and input), so a
    /// test can sign a receipt for it, or forge one.
    /// </summary>
    public Func<ReceivedJob, Stream, CancellationToken, Task>? AnswerJob { get; set; }

    /// <summary>The last signed request: its path, body and signature header (a test replays it).</summary>
    public (string Path, byte[] Body, string Signature)? LastSigned { get; private set; }

    /// <summary>The signature header of a request to <paramref name="path"/> with <paramref name="body"/>, signed at <paramref name="at"/> (default: now, later than the last).</summary>
    public string Sign(string path, byte[] body, DateTimeOffset? at = null, Uri? audience = null, string method = "POST")
    {
        var t = at?.ToUnixTimeMilliseconds() ?? Math.Max(DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(), _lastSigned + 1);
        _lastSigned = Math.Max(_lastSigned, t);
        return MeshSignature.Sign(Key!, method, path, audience ?? _gatewayUrl, t, body);
    }

    /// <summary>Sends <paramref name="body"/> to <paramref name="path"/> with exactly the signature (and credential) given.</summary>
    public async Task<HttpResponseMessage> SendAsync(string path, byte[] body, string? signature, string? credential)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, path.TrimStart('/')) { Content = new ByteArrayContent(body) };
        request.Content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/json");
        if (signature is not null) request.Headers.TryAddWithoutValidation(MeshHeaders.Signature, signature);
        if (credential is not null) request.Headers.Add(MeshHeaders.NodeCredential, credential);
        return await _gateway.SendAsync(request);
    }

    private async Task<HttpResponseMessage> SendSignedAsync(string path, byte[] body, string? credential)
    {
        string? signature = null;
        if (Key is not null)
        {
            signature = Sign(path, body);
            LastSigned = (path, body, signature);
        }

        return await SendAsync(path, body, signature, credential);
    }

    public ConcurrentQueue<ReceivedJob> Jobs { get; } = new();

    /// <summary>Bytes of answer bodies written before the gateway dropped the connection.</summary>
    public long AnswerBytesWritten;

    /// <summary>How a job is answered: writes a whole HTTP response to the stream. Default: 200 {"summary":"ok"}.</summary>
    public Func<Stream, CancellationToken, Task> Answer { get; set; } = (s, ct) => WriteAsync(s, 200, """{"summary":"ok"}""", ct);

    /// <summary>A node's busy answer (its container's JobGate full): 503 with the node-busy verdict, load and not failure.</summary>
    public static Task WriteBusyAsync(Stream s, CancellationToken ct) =>
        s.WriteAsync(Encoding.ASCII.GetBytes($"HTTP/1.1 503 X\r\nContent-Type: application/json\r\n{MeshHeaders.Verdict}: node-busy\r\nContent-Length: 2\r\n\r\n{{}}"), ct).AsTask();

    public static async Task WriteAsync(Stream s, int status, string json, CancellationToken ct, string? receipt = null)
    {
        var body = Encoding.UTF8.GetBytes(json);
        var extra = receipt is null ? "" : $"{MeshHeaders.Receipt}: {receipt}\r\n";
        await s.WriteAsync(Encoding.ASCII.GetBytes($"HTTP/1.1 {status} X\r\nContent-Type: application/json\r\n{extra}Content-Length: {body.Length}\r\n\r\n"), ct);
        await s.WriteAsync(body, ct);
    }

    public async Task<HttpResponseMessage> RegisterAsync(string id, string? credential = null)
    {
        var registration = new NodeRegistration(id, Address, new NodeCapacity(4000, 8L << 30, 0), new Dictionary<string, string>(), TimeSpan.FromSeconds(30),
            Key?.PublicKey.SubjectPublicKeyInfoBase64, TlsPin ?? (Tls is null ? null : InfraMind.Serving.Tls.MeshTls.Fingerprint(Tls)));
        var response = await SendSignedAsync("/mesh/v1/nodes", System.Text.Json.JsonSerializer.SerializeToUtf8Bytes(registration, MeshJson.Options), credential);
        if (response.IsSuccessStatusCode) Credential = (await response.Content.ReadFromJsonAsync<NodeRegistered>(MeshJson.Options))!.Credential;
        return response;
    }

    /// <summary>A heartbeat as raw JSON (so a test can add what the contract does not have), with <paramref name="credential"/>.</summary>
    public async Task<HttpResponseMessage> BeatAsync(string id, string modelsJson, string? credential) =>
        await SendSignedAsync($"/mesh/v1/nodes/{id}/heartbeat", Encoding.UTF8.GetBytes($$"""{"nodeId":"{{id}}","models":{{modelsJson}}}"""), credential);

    /// <summary>Reports echo 1.0.0 ready (and, if given, an "endpoint" of the attacker's choosing).</summary>
    public async Task ReadyAsync(string id, string model = "echo", string version = "1.0.0", Uri? claimedEndpoint = null)
    {
        var endpoint = claimedEndpoint is null ? "" : $",\"endpoint\":\"{claimedEndpoint}\"";
        using var r = await BeatAsync(id, $$"""[{"name":"{{model}}","version":"{{version}}","state":"ready","preflightGeneration":1,"since":"2026-01-01T00:00:00Z"{{endpoint}}}]""", Credential);
        r.EnsureSuccessStatusCode();
    }

    private async Task AcceptAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            TcpClient client;
            try
            {
                client = await _listener.AcceptTcpClientAsync(_stop.Token);
            }
            catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
            {
                return;
            }

            _ = Task.Run(() => ServeAsync(client));
        }
    }

    private async Task ServeAsync(TcpClient client)
    {
        using var _ = client;
        await using var tls = Tls is null ? null : new System.Net.Security.SslStream(client.GetStream());
        Stream stream = tls ?? (Stream)client.GetStream();
        try
        {
            if (tls is not null)
            {
                Interlocked.Increment(ref Handshakes);
                await tls.AuthenticateAsServerAsync(new System.Net.Security.SslServerAuthenticationOptions { ServerCertificate = Tls }, _stop.Token);
            }

            while (!_stop.IsCancellationRequested)
            {
                var head = await ReadHeadAsync(stream, _stop.Token);
                if (head is null) return;
                var lines = head.Split("\r\n");
                var headers = lines.Skip(1).Select(l => l.Split(':', 2)).Where(p => p.Length == 2)
                    .ToDictionary(p => p[0].Trim(), p => p[1].Trim(), StringComparer.OrdinalIgnoreCase);
                var length = headers.TryGetValue("Content-Length", out var cl) ? int.Parse(cl, System.Globalization.CultureInfo.InvariantCulture) : 0;
                var body = new byte[length];
                await stream.ReadExactlyAsync(body, _stop.Token);
                var job = new ReceivedJob(lines[0].Split(' ')[1], headers.GetValueOrDefault("Authorization"), body, headers.GetValueOrDefault(MeshHeaders.RequestId), headers.GetValueOrDefault(MeshHeaders.QueueWaitMs),
                    System.Diagnostics.Stopwatch.GetTimestamp());
                Jobs.Enqueue(job);
                if (AnswerJob is { } answerJob) await answerJob(job, new CountingStream(stream, this), _stop.Token);
                else await Answer(new CountingStream(stream, this), _stop.Token);
            }
        }
        catch (Exception e) when (e is IOException or SocketException or OperationCanceledException or ObjectDisposedException or System.Security.Authentication.AuthenticationException)
        {
            // The gateway dropped the connection: what the over-limit tests expect.
        }
    }

    private static async Task<string?> ReadHeadAsync(Stream stream, CancellationToken ct)
    {
        var head = new List<byte>();
        var one = new byte[1];
        while (true)
        {
            if (await stream.ReadAsync(one, ct) == 0) return null;
            head.Add(one[0]);
            if (head.Count >= 4 && head[^1] == '\n' && head[^2] == '\r' && head[^3] == '\n' && head[^4] == '\r') return Encoding.ASCII.GetString([.. head]);
            if (head.Count > 64 * 1024) return null;
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        await _accept;
        _gateway.Dispose();
        _stop.Dispose();
    }

    /// <summary>Counts what an answer writes, so a test sees how far the gateway read before dropping it.</summary>
    private sealed class CountingStream(Stream inner, FakeNode node) : Stream
    {
        public override bool CanRead => false;

        public override bool CanSeek => false;

        public override bool CanWrite => true;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override void Flush() => inner.Flush();

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            await inner.WriteAsync(buffer, cancellationToken);
            Interlocked.Add(ref node.AnswerBytesWritten, buffer.Length);
        }
    }
}
