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
        using var server = new TokenRegistry(grantToken: true);
        var e = await Assert.ThrowsAsync<StorageException>(() =>
            new RegistryBackend(new PeerOptions { Credentials = new RegistryCredentials("u", "p") })
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
        using var server = new TokenRegistry(grantToken: false);
        var store = new LocalContentStore(_dir.Combine("s"));
        var e = await Assert.ThrowsAsync<StorageException>(() =>
            new RegistryBackend(new PeerOptions()).PullAsync(ContentReference.Parse($"oci://127.0.0.1:{server.Port}/team/model:1"), store, null, CancellationToken.None));
        Assert.Equal(StorageErrorCodes.AuthenticationFailed, e.Code);
        Assert.Contains("401", e.Message);
        Assert.Empty(SmallImage.StoredFiles(store));
    }

    private sealed class TokenRegistry : IDisposable
    {
        private readonly HttpListener _listener = new();
        private readonly bool _grant;
        private readonly Task _loop;

        public TokenRegistry(bool grantToken)
        {
            _grant = grantToken;
            for (int attempt = 0; ; attempt++)
            {
                try
                {
                    Port = PeerProcess.FreePort();
                    _listener.Prefixes.Clear();
                    _listener.Prefixes.Add($"http://127.0.0.1:{Port}/");
                    _listener.Start();
                    break;
                }
                catch (HttpListenerException) when (attempt < 3)
                {
                }
            }

            _loop = Task.Run(LoopAsync);
        }

        public int Port { get; private set; }

        public string? Scope { get; private set; }

        public string? Service { get; private set; }

        public string? TokenAuthorization { get; private set; }

        public string? ManifestAuthorization { get; private set; }

        private async Task LoopAsync()
        {
            while (_listener.IsListening)
            {
                HttpListenerContext context;
                try
                {
                    context = await _listener.GetContextAsync();
                }
                catch (Exception e) when (e is HttpListenerException or ObjectDisposedException or InvalidOperationException)
                {
                    return;
                }

                var request = context.Request;
                var response = context.Response;
                string auth = request.Headers["Authorization"] ?? "";
                string path = request.Url!.AbsolutePath;
                if (path == "/token")
                {
                    Scope = request.QueryString["scope"];
                    Service = request.QueryString["service"];
                    TokenAuthorization = auth;
                    Write(response, _grant ? 200 : 401, _grant ? "{\"token\":\"tok-123\"}" : "{\"errors\":[{\"code\":\"DENIED\"}]}");
                }
                else if (auth != "Bearer tok-123")
                {
                    response.AddHeader("WWW-Authenticate", $"Bearer realm=\"http://127.0.0.1:{Port}/token\",service=\"fake-registry\"");
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

        public void Dispose()
        {
            // Close, not Stop then Close: after Stop, closing re-binds the port to remove the prefix, and fails with
            // "address already in use" when a parallel test has taken the port meanwhile.
            _listener.Close();
            _loop.Wait(TimeSpan.FromSeconds(5));
        }
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
        using var listener = new HttpListener();
        int port = PeerProcess.FreePort();
        listener.Prefixes.Add($"http://127.0.0.1:{port}/");
        listener.Start();
        using var stop = new CancellationTokenSource();
        var loop = Task.Run(async () =>
        {
            while (listener.IsListening)
            {
                HttpListenerContext context;
                try
                {
                    context = await listener.GetContextAsync();
                }
                catch (Exception e) when (e is HttpListenerException or ObjectDisposedException or InvalidOperationException)
                {
                    return;
                }

                string path = context.Request.Url!.AbsolutePath;
                var response = context.Response;
                try
                {
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
                        await blob.ReadExactlyAsync(half);
                        await response.OutputStream.WriteAsync(half);
                        await response.OutputStream.FlushAsync();
                        if (stall) await Task.Delay(Timeout.Infinite, stop.Token);
                        response.Abort();
                    }
                    else
                    {
                        var digest = path[(path.LastIndexOf('/') + 1)..];
                        await using var blob = image.OpenBlob(InfraMind.Oci.Digest.Parse(digest));
                        response.ContentLength64 = blob.Length;
                        await blob.CopyToAsync(response.OutputStream);
                        response.Close();
                    }
                }
                catch (Exception e) when (e is OperationCanceledException or HttpListenerException or IOException or ObjectDisposedException)
                {
                    response.Abort();
                }
            }
        });

        var store = new LocalContentStore(_dir.Combine("victim"));
        var reference = ContentReference.Parse($"oci://127.0.0.1:{port}/faulty@{image.ManifestDigest}");
        var e = await Assert.ThrowsAsync<StorageException>(() =>
            new RegistryBackend(new PeerOptions { StallTimeout = TimeSpan.FromSeconds(1) }).PullAsync(reference, store, null, CancellationToken.None));
        Assert.Equal(StorageErrorCodes.PeerUnavailable, e.Code);
        Assert.Contains(stall ? "sent nothing for 1 s" : "closed the connection", e.Message);
        Assert.Contains($"127.0.0.1:{port}/v2/faulty/blobs/{big.Digest}", e.Message);
        Assert.Empty(SmallImage.StoredFiles(store));
        await stop.CancelAsync();
        listener.Close(); // not Stop: see TokenRegistry.Dispose
        await loop.WaitAsync(TimeSpan.FromSeconds(5));
    }
}
