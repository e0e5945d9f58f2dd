using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using InfraMind.Gateway.Catalog;
using InfraMind.Serving;
using InfraMind.Serving.Tls;

namespace InfraMind.Gateway.Tests;

/// <summary>
/// Node job APIs over TLS (#16) against a real gateway on Kestrel, with nodes played by the test over real sockets
/// (each its own TLS server): the gateway takes a node's certificate only when its key is the one the node's
/// registration pinned; a node presenting any other key gets no job (not one byte: the handshake fails), and the
/// request is answered by another node.
/// </summary>
public sealed class TlsPinTests : IDisposable
{
    private readonly InMemoryModelCatalog _catalog = new();
    private readonly string _token = MeshToken.Create();
    private readonly System.Security.Cryptography.X509Certificates.X509Certificate2 _registered = MeshTls.Create("pinned");
    private readonly System.Security.Cryptography.X509Certificates.X509Certificate2 _other = MeshTls.Create("pinned");
    private readonly HttpClient _http = new(new SocketsHttpHandler { UseProxy = false }) { Timeout = TimeSpan.FromSeconds(60) };

    public TlsPinTests() => _catalog.Publish(MeshStateTests.Served("1.0.0").Published);

    public void Dispose()
    {
        _http.Dispose();
        _registered.Dispose();
        _other.Dispose();
    }

    private Task<GatewayHost> StartAsync() => GatewayHost.StartAsync(
        // Patient timeouts: one failure suspends a node here, and a first TLS handshake on loaded cores can take seconds.
        // A wrong pin fails the handshake at once, whatever these are.
        new GatewayOptions
        {
            NodeToken = _token, Replicas = 2, MaxAttempts = 3, SuspendAfterFailures = 1,
            AttemptTimeout = TimeSpan.FromSeconds(30), ConnectTimeout = TimeSpan.FromSeconds(30),
        }, _catalog, CancellationToken.None);

    private async Task<HttpResponseMessage> InferAsync(Uri gateway, int i)
    {
        using var content = new StringContent($$"""{"text":"{{i}}"}""", Encoding.UTF8, "application/json");
        return await _http.PostAsync(new Uri(gateway, "inference/v1/echo"), content);
    }

    [Fact]
    public async Task A_node_serving_the_certificate_it_registered_gets_its_jobs_over_TLS()
    {
        await using var gateway = await StartAsync();
        await using var node = new FakeNode(gateway.Url, _token) { Tls = _registered };
        Assert.Equal("https", node.Address.Scheme);
        using (var r = await node.RegisterAsync("tls-node")) Assert.Equal(HttpStatusCode.OK, r.StatusCode);
        await node.ReadyAsync("tls-node");

        for (var i = 0; i < 3; i++)
        {
            using var response = await InferAsync(gateway.Url, i);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal("tls-node", response.Headers.GetValues(MeshHeaders.Node).Single());
        }

        Assert.Equal(3, node.Jobs.Count);
        Assert.All(node.Jobs, j => Assert.Equal($"Bearer {node.Credential}", j.Authorization));
        Assert.True(node.Handshakes >= 1);
        var state = JsonNode.Parse(await _http.GetStringAsync(new Uri(gateway.Url, "inference/v1")))!;
        var described = state["nodes"]!.AsArray().Single(n => (string?)n!["id"] == "tls-node")!;
        Assert.Equal(MeshTls.Fingerprint(_registered), (string?)described["tlsFingerprint"]);
    }

    [Fact]
    public async Task A_node_presenting_another_key_than_its_pin_gets_no_job_and_the_request_is_re_routed()
    {
        await using var gateway = await StartAsync();
        // Registered the pin of one certificate, serves another (someone else at the node's address, or a node restarted
        // with a new certificate that did not register it): the same subject, another key.
        await using var impostor = new FakeNode(gateway.Url, _token) { Tls = _other, TlsPin = MeshTls.Fingerprint(_registered) };
        await using var honest = new FakeNode(gateway.Url, _token) { Tls = _registered };
        using (var r = await impostor.RegisterAsync("impostor")) r.EnsureSuccessStatusCode();
        using (var r = await honest.RegisterAsync("honest")) r.EnsureSuccessStatusCode();
        await impostor.ReadyAsync("impostor");
        await honest.ReadyAsync("honest");

        // Until the impostor was tried (nodes are chosen at random, weighted), then a few more: every answer is the honest node's.
        for (var i = 0; i < 60 && (impostor.Handshakes == 0 || i < 6); i++)
        {
            using var response = await InferAsync(gateway.Url, i);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal("honest", response.Headers.GetValues(MeshHeaders.Node).Single());
        }

        Assert.True(impostor.Handshakes > 0, "the impostor was never tried");
        Assert.Empty(impostor.Jobs);
        var state = JsonNode.Parse(await _http.GetStringAsync(new Uri(gateway.Url, "inference/v1")))!;
        var standing = state["models"]![0]!["versions"]![0]!["nodes"]!.AsArray().Single(n => (string?)n!["node"] == "impostor")!;
        Assert.Equal(0, (long)standing["successes"]!);
        Assert.True((bool)standing["suspended"]!, standing.ToJsonString());
        Assert.Equal(Verdict.TlsPinMismatch.WireName, (string?)standing["suspendedFor"]);

        // On a gateway that knows only an impostor, the client gets the attempt's named verdict, never an answer from it.
        await using var gateway2 = await StartAsync();
        await using var alone = new FakeNode(gateway2.Url, _token) { Tls = _other, TlsPin = MeshTls.Fingerprint(_registered) };
        using (var r = await alone.RegisterAsync("alone")) r.EnsureSuccessStatusCode();
        await alone.ReadyAsync("alone");
        using var refused = await InferAsync(gateway2.Url, 0);
        var body = await refused.Content.ReadAsStringAsync();
        Assert.Equal(HttpStatusCode.BadGateway, refused.StatusCode);
        Assert.Contains(Verdict.TlsPinMismatch.WireName, body, StringComparison.Ordinal);
        Assert.Contains(MeshErrorCodes.TlsPinMismatch.Value, body, StringComparison.Ordinal);
        Assert.Contains(MeshTls.Fingerprint(_other), body, StringComparison.Ordinal);
        Assert.Empty(alone.Jobs);
    }

    [Fact]
    public async Task A_pin_needs_an_https_address_and_a_well_formed_fingerprint()
    {
        await using var gateway = await StartAsync();
        await using var node = new FakeNode(gateway.Url, _token) { TlsPin = MeshTls.Fingerprint(_registered) };
        using var plain = await node.RegisterAsync("plain-pinned");
        Assert.Equal(HttpStatusCode.BadRequest, plain.StatusCode);
        Assert.Contains("tlsFingerprint", await plain.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        await using var bad = new FakeNode(gateway.Url, _token) { Tls = _registered, TlsPin = "sha256:ABC" };
        using var malformed = await bad.RegisterAsync("bad-pin");
        Assert.Equal(HttpStatusCode.BadRequest, malformed.StatusCode);
    }

    [Fact]
    public void Fingerprints_are_of_the_key_and_a_kept_certificate_is_reused()
    {
        Assert.True(MeshTls.IsFingerprint(MeshTls.Fingerprint(_registered)));
        Assert.NotEqual(MeshTls.Fingerprint(_registered), MeshTls.Fingerprint(_other));
        var dir = Directory.CreateTempSubdirectory("im-tls-");
        try
        {
            var file = Path.Combine(dir.FullName, "tls", "n1.pfx");
            using var made = MeshTls.LoadOrCreate(file, "n1");
            using var again = MeshTls.LoadOrCreate(file, "n1");
            Assert.Equal(MeshTls.Fingerprint(made), MeshTls.Fingerprint(again));
            Assert.True(again.HasPrivateKey);
            if (!OperatingSystem.IsWindows())
                Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(file));
            File.WriteAllText(file, "not a certificate");
            var e = Assert.Throws<InfraMindException>(() => MeshTls.LoadOrCreate(file, "n1"));
            Assert.Equal(MeshErrorCodes.TlsCertificateInvalid, e.Code);
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }
}
