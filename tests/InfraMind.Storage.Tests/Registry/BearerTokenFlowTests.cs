using System.Net;
using System.Text;
using InfraMind.Storage.Registry;
using InfraMind.Storage.Tests.Content;
using InfraMind.Testing;

namespace InfraMind.Storage.Tests.Registry;

/// <summary>
/// The Bearer challenge flow (token service + registry) against a small in-test server on 127.0.0.1: Debian's registry
/// needs a JWT-signing token service for this, so the protocol exchange is checked here and Basic against the real one.
/// </summary>
public sealed class BearerTokenFlowTests : IDisposable
{
    private readonly TempDirectory _dir = new("im-bearer");

    public void Dispose() => _dir.Dispose();

    [Fact]
    public async Task Challenge_is_answered_with_a_token_for_the_repository_scope()
    {
        await using var server = new TokenRegistry(grantToken: true);
        var e = await Assert.ThrowsAsync<StorageException>(() =>
            new RegistryBackend(new PeerOptions { Credentials = new RegistryCredentials("u", "p", [$"127.0.0.1:{server.Port}"]) })
                .PullAsync(ContentReference.Parse($"oci://127.0.0.1:{server.Port}/team/model:1"), new LocalContentStore(_dir.Combine("s")), null, CancellationToken.None));
        // Past authentication: the (empty) registry does not have the manifest.
        Assert.Equal(StorageErrorCodes.NotFound, e.Code);
        Assert.Equal("repository:team/model:pull", server.Scope);
        Assert.Equal("fake-registry", server.Service);
        Assert.Equal("Basic " + Convert.ToBase64String(Encoding.UTF8.GetBytes("u:p")), server.TokenAuthorization);
        Assert.Equal("Bearer tok-123", server.ManifestAuthorization);
    }

    [Fact]
    public async Task Refused_token_is_an_authentication_error()
    {
        await using var server = new TokenRegistry(grantToken: false);
        var store = new LocalContentStore(_dir.Combine("s"));
        var e = await Assert.ThrowsAsync<StorageException>(() =>
            new RegistryBackend(new PeerOptions()).PullAsync(ContentReference.Parse($"oci://127.0.0.1:{server.Port}/team/model:1"), store, null, CancellationToken.None));
        Assert.Equal(StorageErrorCodes.AuthenticationFailed, e.Code);
        Assert.Contains("401", e.Message);
        Assert.Empty(SmallImage.StoredFiles(store));
    }

    [Fact]
    public async Task A_token_answer_over_1_MiB_is_refused_not_read_whole()
    {
        // A token service is a peer the registry names: its answer is a small JSON object, read up to 1 MiB, no further.
        var huge = "{\"token\":\"" + new string('t', 2 << 20) + "\"}";
        await using var server = new TokenRegistry(grantToken: true, tokenAnswer: huge);
        var store = new LocalContentStore(_dir.Combine("s"));
        var e = await Assert.ThrowsAsync<StorageException>(() =>
            new RegistryBackend(new PeerOptions()).PullAsync(ContentReference.Parse($"oci://127.0.0.1:{server.Port}/team/model:1"), store, null, CancellationToken.None));
        Assert.Equal(StorageErrorCodes.TooLarge, e.Code);
        Assert.True(e.Message.Contains($"the token answer of http://127.0.0.1:{server.Port}/token sent more than the {1 << 20} bytes", StringComparison.Ordinal), e.Message);
        Assert.Null(server.ManifestAuthorization);
        Assert.Empty(SmallImage.StoredFiles(store));
    }

    [Theory]
    [InlineData("file:///etc/passwd")]
    [InlineData("ftp://127.0.0.1:{PORT}/token")]
    public async Task A_token_realm_that_is_not_http_is_refused_with_a_code(string realm)
    {
        // A hostile registry names the realm: one that no HTTP client can fetch is the registry's fault, said as such.
        await using var server = new TokenRegistry(grantToken: true, realm: realm);
        var e = await Assert.ThrowsAsync<StorageException>(() =>
            new RegistryBackend(new PeerOptions { Credentials = new RegistryCredentials("u", "p", [$"127.0.0.1:{server.Port}"]) })
                .PullAsync(ContentReference.Parse($"oci://127.0.0.1:{server.Port}/team/model:1"), new LocalContentStore(_dir.Combine("s")), null, CancellationToken.None));
        Assert.Equal(StorageErrorCodes.AuthenticationFailed, e.Code);
        Assert.Contains("token realm", e.Message, StringComparison.Ordinal);
        Assert.Null(server.TokenAuthorization);
    }

    [Theory]
    [InlineData("tok\r\nX-Injected: 1")]
    [InlineData("tok-\u00e9")]
    [InlineData("tok 123")]
    public async Task A_token_that_is_not_a_header_token_is_refused_with_a_code(string token)
    {
        // The token service's answer becomes an Authorization header: one that cannot be one is the service's fault.
        await using var server = new TokenRegistry(grantToken: true, tokenAnswer: System.Text.Json.JsonSerializer.Serialize(new { token }));
        var e = await Assert.ThrowsAsync<StorageException>(() =>
            new RegistryBackend(new PeerOptions()).PullAsync(ContentReference.Parse($"oci://127.0.0.1:{server.Port}/team/model:1"), new LocalContentStore(_dir.Combine("s")), null, CancellationToken.None));
        Assert.Equal(StorageErrorCodes.AuthenticationFailed, e.Code);
        Assert.Contains("token", e.Message, StringComparison.Ordinal);
        Assert.Null(server.ManifestAuthorization);
    }

    /// <summary>A token service and a registry behind a Bearer challenge, recording what the client sent.</summary>
    private sealed class TokenRegistry : IAsyncDisposable
    {
        private readonly bool _grant;
        private readonly string _tokenAnswer;
        private readonly string? _realm;
        private readonly ListenerServer _server;

        public TokenRegistry(bool grantToken, string tokenAnswer = "{\"token\":\"tok-123\"}", string? realm = null)
        {
            _grant = grantToken;
            _tokenAnswer = tokenAnswer;
            _realm = realm;
            _server = new ListenerServer((context, _) =>
            {
                Answer(context);
                return Task.CompletedTask;
            });
        }

        public int Port => _server.Port;

        public string? Scope { get; private set; }

        public string? Service { get; private set; }

        public string? TokenAuthorization { get; private set; }

        public string? ManifestAuthorization { get; private set; }

        private void Answer(HttpListenerContext context)
        {
            var request = context.Request;
            var response = context.Response;
            string auth = request.Headers["Authorization"] ?? "";
            string path = request.Url!.AbsolutePath;
            if (path == "/token")
            {
                Scope = request.QueryString["scope"];
                Service = request.QueryString["service"];
                TokenAuthorization = auth;
                Write(response, _grant ? 200 : 401, _grant ? _tokenAnswer : "{\"errors\":[{\"code\":\"DENIED\"}]}");
            }
            else if (auth != "Bearer tok-123")
            {
                response.AddHeader("WWW-Authenticate", $"Bearer realm=\"{(_realm ?? "http://127.0.0.1:{PORT}/token").Replace("{PORT}", Port.ToString(System.Globalization.CultureInfo.InvariantCulture), StringComparison.Ordinal)}\",service=\"fake-registry\"");
                Write(response, 401, "{\"errors\":[{\"code\":\"UNAUTHORIZED\"}]}");
            }
            else if (path == "/v2/")
            {
                Write(response, 200, "{}");
            }
            else
            {
                ManifestAuthorization = auth;
                Write(response, 404, "{\"errors\":[{\"code\":\"MANIFEST_UNKNOWN\"}]}");
            }
        }

        private static void Write(HttpListenerResponse response, int status, string body)
        {
            byte[] bytes = Encoding.UTF8.GetBytes(body);
            response.StatusCode = status;
            response.ContentType = "application/json";
            response.ContentLength64 = bytes.Length;
            response.OutputStream.Write(bytes);
            response.Close();
        }

        public ValueTask DisposeAsync() => _server.DisposeAsync();
    }
}

/// <summary>
/// A registry that serves a valid manifest but misbehaves on a blob (cut short, stalled): the pull fails with the peer
/// named and the byte count, and the store holds nothing afterwards.
/// </summary>
public sealed class FaultyRegistryTests : IDisposable
{
    private readonly TempDirectory _dir = new("im-faulty-registry");

    public void Dispose() => _dir.Dispose();

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Blob_cut_short_or_stalled_fails_clearly_and_leaves_nothing(bool stall)
    {
        var image = await SmallImage.ImportAsync(new LocalContentStore(_dir.Combine("source")), "faulty", layerSize: 200_000);
        byte[] manifest = await image.ReadManifestAsync(CancellationToken.None);
        var big = image.Image.Layers[1];
        await using var server = new ListenerServer(async (context, stop) =>
        {
            string path = context.Request.Url!.AbsolutePath;
            var response = context.Response;
            if (path == "/v2/")
            {
                response.StatusCode = 200;
                response.Close();
            }
            else if (path.Contains("/manifests/", StringComparison.Ordinal))
            {
                response.ContentType = image.ManifestMediaType;
                response.ContentLength64 = manifest.Length;
                response.OutputStream.Write(manifest);
                response.Close();
            }
            else if (path.EndsWith(big.Digest.Value, StringComparison.Ordinal))
            {
                response.ContentLength64 = big.Size;
                await using var blob = image.OpenBlob(big.Digest);
                var half = new byte[big.Size / 2];
                await blob.ReadExactlyAsync(half, stop);
                await response.OutputStream.WriteAsync(half, stop);
                await response.OutputStream.FlushAsync(stop);
                if (stall) await Task.Delay(Timeout.Infinite, stop);
                response.Abort();
            }
            else
            {
                var digest = path[(path.LastIndexOf('/') + 1)..];
                await using var blob = image.OpenBlob(InfraMind.Oci.Digest.Parse(digest));
                response.ContentLength64 = blob.Length;
                await blob.CopyToAsync(response.OutputStream, stop);
                response.Close();
            }
        });
        int port = server.Port;

        var store = new LocalContentStore(_dir.Combine("victim"));
        var reference = ContentReference.Parse($"oci://127.0.0.1:{port}/faulty@{image.ManifestDigest}");
        var e = await Assert.ThrowsAsync<StorageException>(() =>
            new RegistryBackend(new PeerOptions { StallTimeout = TimeSpan.FromSeconds(1) }).PullAsync(reference, store, null, CancellationToken.None));
        Assert.Equal(StorageErrorCodes.PeerUnavailable, e.Code);
        Assert.Contains(stall ? "sent nothing for 1 s" : "closed the connection", e.Message);
        Assert.Contains($"127.0.0.1:{port}/v2/faulty/blobs/{big.Digest}", e.Message);
        Assert.Empty(SmallImage.StoredFiles(store));
    }
}
