using System.Net;
using System.Net.Sockets;
using System.Text;
using InfraMind.Oci;
using InfraMind.Storage.Http;
using InfraMind.Storage.Registry;
using InfraMind.Testing;

namespace InfraMind.Storage.Tests.Http;

/// <summary>
/// Fetches on a publisher's behalf (#13 §1) against listeners the test starts: destinations judged after resolution and
/// refused before any connection, no redirect to another origin, a byte cap that holds for bodies without a length,
/// and a peer's body never repeated.
/// </summary>
public sealed class FetchPolicyTests : IDisposable
{
    private static readonly string AnyHex = new('a', 64);
    private readonly TempDirectory _dir = new("im-fetch-policy");

    public void Dispose() => _dir.Dispose();

    private LocalContentStore NewStore() => new(_dir.Combine("store-" + Guid.NewGuid().ToString("N")));

    private static FetchPolicy Publishers(params string[] allowed) =>
        FetchPolicy.OnBehalfOfPublishers(allowed.Select(IPNetwork.Parse), hostLocalReferences: false);

    private Task<ImageArchive> PullAsync(string reference, FetchPolicy policy) =>
        new ContentResolver(NewStore(), new PeerOptions { Policy = policy, StallTimeout = TimeSpan.FromSeconds(10) })
            .ResolveAsync(ContentReference.Parse(reference), null, CancellationToken.None);

    [Theory]
    [InlineData("127.0.0.1", false)]
    [InlineData("127.0.0.2", false)]
    [InlineData("10.1.2.3", false)]
    [InlineData("172.20.0.1", false)]
    [InlineData("192.168.1.1", false)]
    [InlineData("169.254.169.254", false)]
    [InlineData("100.64.0.1", false)]
    [InlineData("0.0.0.0", false)]
    [InlineData("224.0.0.1", false)]
    [InlineData("::1", false)]
    [InlineData("fe80::1", false)]
    [InlineData("fd00::1", false)]
    [InlineData("::ffff:10.0.0.1", false)]
    [InlineData("64:ff9b::a00:1", false)]
    [InlineData("2002:a00:1::1", false)]
    [InlineData("93.184.216.34", true)]
    [InlineData("2606:4700::1111", true)]
    public void Only_public_unicast_addresses_are_public(string address, bool isPublic) =>
        Assert.Equal(isPublic, FetchPolicy.IsPublic(IPAddress.Parse(address)));

    [Fact]
    public async Task A_loopback_destination_is_refused_before_any_connection_unless_allow_listed()
    {
        // A real listener on 127.0.0.2 counting connections: the refusal must come before the SYN.
        using var listener = new TcpListener(IPAddress.Parse("127.0.0.2"), 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        var reference = $"http://127.0.0.2:{port}/image.tar#sha256={AnyHex}";

        var e = await Assert.ThrowsAsync<StorageException>(() => PullAsync(reference, Publishers()));
        Assert.Equal(StorageErrorCodes.DestinationRefused, e.Code);
        Assert.Contains("127.0.0.2", e.Message, StringComparison.Ordinal);
        Assert.False(listener.Pending(), "a connection reached the listener");

        // Allow-listed: the connection is made (the listener never answers; the stall timeout is not waited for).
        using var cts = new CancellationTokenSource();
        var allowed = new ContentResolver(NewStore(), new PeerOptions { Policy = Publishers("127.0.0.2/32") })
            .ResolveAsync(ContentReference.Parse(reference), null, cts.Token);
        using var accepted = await listener.AcceptTcpClientAsync().WaitAsync(TimeSpan.FromSeconds(10));
        await cts.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => allowed);
    }

    [Theory]
    [InlineData("10.1.2.3")]
    [InlineData("169.254.169.254")]
    [InlineData("fe80::1")]
    public async Task A_name_that_resolves_to_a_private_address_is_refused_after_resolution_and_nothing_is_sent(string resolved)
    {
        // The name is resolved once, by the policy, and the connection would go to the address checked: a name that
        // resolves to a public address on one lookup and a private one on the next (DNS rebinding) gains nothing.
        var lookups = 0;
        var policy = Publishers() with
        {
            ResolveHost = (host, _) =>
            {
                lookups++;
                return Task.FromResult(host == "content.example.test" ? new[] { IPAddress.Parse(resolved) } : []);
            },
        };
        var e = await Assert.ThrowsAsync<StorageException>(() => PullAsync($"https://content.example.test/image.tar#sha256={AnyHex}", policy));
        Assert.Equal(StorageErrorCodes.DestinationRefused, e.Code);
        Assert.Contains(resolved, e.Message, StringComparison.Ordinal);
        Assert.Equal(1, lookups);
    }

    [Fact]
    public async Task Only_the_permitted_addresses_of_a_name_are_connected_to()
    {
        await using var server = new RawHttpServer(_ => (404, null, []));
        var policy = Publishers("127.0.0.1/32") with
        {
            ResolveHost = (_, _) => Task.FromResult(new[] { IPAddress.Parse("10.9.9.9"), IPAddress.Loopback }),
        };
        var e = await Assert.ThrowsAsync<StorageException>(() => PullAsync($"http://localhost:{server.Port}/image.tar#sha256={AnyHex}", policy));
        Assert.Equal(StorageErrorCodes.NotFound, e.Code); // reached 127.0.0.1, never 10.9.9.9
        Assert.Equal(1, server.Connections);
    }

    [Fact]
    public async Task A_redirect_to_another_origin_is_not_followed_on_a_publishers_behalf()
    {
        var elsewhere = 0;
        await using var other = new ListenerServer((context, _) =>
        {
            Interlocked.Increment(ref elsewhere);
            context.Response.StatusCode = 404;
            context.Response.Close();
            return Task.CompletedTask;
        });
        await using var redirecting = new ListenerServer((context, _) =>
        {
            var path = context.Request.Url!.AbsolutePath;
            context.Response.StatusCode = path == "/moved" ? 404 : 302;
            if (path != "/moved") context.Response.RedirectLocation = path == "/same" ? "/moved" : $"http://127.0.0.1:{other.Port}/image.tar";
            context.Response.Close();
            return Task.CompletedTask;
        });

        var e = await Assert.ThrowsAsync<StorageException>(() =>
            PullAsync($"http://127.0.0.1:{redirecting.Port}/image.tar#sha256={AnyHex}", Publishers("127.0.0.1/32")));
        Assert.Equal(StorageErrorCodes.RedirectRefused, e.Code);
        Assert.Equal(0, elsewhere);

        // The same origin is followed (to a 404 here).
        var sameOrigin = await Assert.ThrowsAsync<StorageException>(() =>
            PullAsync($"http://127.0.0.1:{redirecting.Port}/same#sha256={AnyHex}", Publishers("127.0.0.1/32")));
        Assert.Equal(StorageErrorCodes.NotFound, sameOrigin.Code);

        // A user's own pull follows it to the other origin.
        var followed = await Assert.ThrowsAsync<StorageException>(() =>
            PullAsync($"http://127.0.0.1:{redirecting.Port}/image.tar#sha256={AnyHex}", FetchPolicy.Unrestricted));
        Assert.Equal(StorageErrorCodes.NotFound, followed.Code);
        Assert.Equal(1, elsewhere);
    }

    /// <summary>
    /// A source that answers every request with a redirect to a new path of its own (same origin, so the origin rule does
    /// not stop it): the fetch gives up after <see cref="FetchPolicy.MaxRedirects"/> hops, having sent one request
    /// more than that, instead of following it for as long as the source likes.
    /// </summary>
    [Fact]
    public async Task Redirects_are_followed_at_most_MaxRedirects_times()
    {
        var requests = 0;
        await using var looping = new ListenerServer((context, _) =>
        {
            var n = Interlocked.Increment(ref requests);
            context.Response.StatusCode = 302;
            context.Response.RedirectLocation = $"/hop-{n}";
            context.Response.Close();
            return Task.CompletedTask;
        });

        var policy = Publishers("127.0.0.1/32");
        var e = await Assert.ThrowsAsync<StorageException>(() => PullAsync($"http://127.0.0.1:{looping.Port}/image.tar#sha256={AnyHex}", policy));
        Assert.Equal(StorageErrorCodes.PeerRejected, e.Code);
        Assert.Contains($"redirected more than {policy.MaxRedirects} times", e.Message, StringComparison.Ordinal);
        Assert.Equal(policy.MaxRedirects + 1, Volatile.Read(ref requests));
    }

    [Theory]
    [InlineData(500)]
    [InlineData(401)]
    [InlineData(404)]
    public async Task A_peers_error_body_is_never_repeated(int status)
    {
        // A local service that answers with what it knows; a registry whose manifest answer does the same.
        var secret = Encoding.UTF8.GetBytes("db_password=hunter2 {\"errors\":[{\"code\":\"DENIED\",\"message\":\"hunter2\"}]}");
        await using var server = new RawHttpServer(r => r.Path == "/v2/" ? (200, null, "{}"u8.ToArray()) : (status, null, secret));
        foreach (var reference in new[] { $"http://127.0.0.1:{server.Port}/x.tar#sha256={AnyHex}", $"oci://127.0.0.1:{server.Port}/m@sha256:{AnyHex}" })
        {
            var e = await Assert.ThrowsAsync<StorageException>(() => PullAsync(reference, Publishers("127.0.0.1/32")));
            Assert.DoesNotContain("hunter2", e.Message, StringComparison.Ordinal);
            Assert.DoesNotContain("db_password", e.Message, StringComparison.Ordinal);
            Assert.Contains(status.ToString(System.Globalization.CultureInfo.InvariantCulture), e.Message, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task A_distribution_error_code_is_shown_but_not_its_message()
    {
        var body = Encoding.UTF8.GetBytes("{\"errors\":[{\"code\":\"MANIFEST_UNKNOWN\",\"message\":\"secret-path /srv/x\"},{\"code\":\"not a code; rm -rf\"}]}");
        await using var server = new RawHttpServer(r => r.Path == "/v2/" ? (200, null, "{}"u8.ToArray()) : (404, null, body));
        var e = await Assert.ThrowsAsync<StorageException>(() => PullAsync($"oci://127.0.0.1:{server.Port}/m@sha256:{AnyHex}", Publishers("127.0.0.1/32")));
        Assert.Contains("MANIFEST_UNKNOWN", e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("secret-path", e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("rm -rf", e.Message, StringComparison.Ordinal);
    }

    /// <summary>Serves 50 MB (chunked, no Content-Length, or declared) and counts what it got to send before the client hung up.</summary>
    private sealed class Flood : IAsyncDisposable
    {
        private const long Size = 50L << 20;
        private readonly ListenerServer _server;
        private long _sent;

        public Flood(bool declareLength)
        {
            _server = new ListenerServer(async (context, ct) =>
            {
                var r = context.Response;
                if (context.Request.Url!.AbsolutePath == "/v2/")
                {
                    r.StatusCode = 200;
                    r.Close();
                    return;
                }

                r.ContentType = "application/vnd.oci.image.manifest.v1+json";
                if (declareLength) r.ContentLength64 = Size;
                else r.SendChunked = true;
                var chunk = new byte[64 << 10];
                Array.Fill(chunk, (byte)' ');
                try
                {
                    while (Interlocked.Read(ref _sent) < Size)
                    {
                        await r.OutputStream.WriteAsync(chunk, ct);
                        Interlocked.Add(ref _sent, chunk.Length);
                    }

                    r.Close();
                }
                catch (Exception e) when (e is HttpListenerException or IOException or ObjectDisposedException)
                {
                    r.Abort(); // the client hung up: what it refused to read is not sent
                }
            });
        }

        public int Port => _server.Port;

        public long Sent => Interlocked.Read(ref _sent);

        public ValueTask DisposeAsync() => _server.DisposeAsync();
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_50MB_file_is_stopped_at_the_byte_cap_without_being_read_whole(bool declareLength)
    {
        await using var flood = new Flood(declareLength);
        var policy = Publishers("127.0.0.1/32") with { MaxImageBytes = 8L << 20 };
        var e = await Assert.ThrowsAsync<StorageException>(() => PullAsync($"http://127.0.0.1:{flood.Port}/big.tar#sha256={AnyHex}", policy));
        Assert.Equal(StorageErrorCodes.TooLarge, e.Code);
        // Declared: refused at the headers (the message says so: nothing of the body was taken). Chunked: stopped at the
        // cap. Either way what the sender got rid of beyond that is what the two sockets' buffers hold in flight (up to
        // the kernel's tcp_wmem maximum, 4 MiB here, plus the receive window), never the 50 MB.
        if (declareLength) Assert.Contains("declares 52428800 bytes", e.Message, StringComparison.Ordinal);
        Assert.True(flood.Sent < (declareLength ? 8L << 20 : 24L << 20), $"{flood.Sent} bytes were sent of 50 MB");
    }

    [Fact]
    public async Task A_50MB_manifest_without_a_length_is_refused_after_the_manifest_bound_not_read_whole()
    {
        await using var flood = new Flood(declareLength: false);
        var e = await Assert.ThrowsAsync<StorageException>(() => PullAsync($"oci://127.0.0.1:{flood.Port}/m@sha256:{AnyHex}", Publishers("127.0.0.1/32")));
        Assert.Equal(StorageErrorCodes.UnsupportedManifest, e.Code);
        Assert.Contains(ArchiveLimits.MaxManifestBytes.ToString(System.Globalization.CultureInfo.InvariantCulture), e.Message, StringComparison.Ordinal);
        Assert.True(flood.Sent < 24L << 20, $"{flood.Sent} bytes were sent of 50 MB");
    }

    [Fact]
    public async Task Host_local_references_are_refused_with_one_answer_whatever_exists()
    {
        var answers = new List<string>();
        foreach (var reference in new[] { "file:///etc/shadow", "file:///nonexistent/x.tar", "file:///root", "local://python:3.10-slim", "local://sha256:" + AnyHex })
        {
            var e = await Assert.ThrowsAsync<StorageException>(() => PullAsync(reference, Publishers()));
            Assert.Equal(StorageErrorCodes.UnsupportedReference, e.Code);
            answers.Add(e.Message);
        }

        Assert.Single(answers.Take(3).Distinct());
        Assert.Single(answers.Skip(3).Distinct());
    }
}
