using System.Net;
using System.Net.Sockets;
using System.Text;
using InfraMind.Oci;
using InfraMind.Storage.Http;
using InfraMind.Storage.Tests.Content;
using InfraMind.Testing;

namespace InfraMind.Storage.Tests.Http;

/// <summary>PUT to and GET from a real static server (Debian nginx, dav module) on a 127.0.0.1 port of the test's own.</summary>
public sealed class HttpBackendTests : IAsyncLifetime, IDisposable
{
    private readonly TempDirectory _dir = new("im-httptest");
    private NginxPeer _nginx = null!;

    public async Task InitializeAsync() => _nginx = await NginxPeer.StartAsync();

    public async Task DisposeAsync()
    {
        if (_nginx is not null) await _nginx.DisposeAsync();
    }

    public void Dispose() => _dir.Dispose();

    private LocalContentStore NewStore(string name) => new(_dir.Combine(name));

    [SkippableFact]
    public async Task Push_puts_the_layout_tar_and_pull_verifies_it_into_the_store()
    {
        var image = await SmallImage.ImportAsync(NewStore("source"), "http", layerSize: 200_000);
        var backend = new HttpBackend(new PeerOptions());
        var pushed = await backend.PushAsync(image, ContentReference.ParseTarget($"http://{_nginx.HostPort}/images/"), null, CancellationToken.None);
        var reference = Assert.IsType<HttpReference>(pushed.Reference);
        Assert.Equal($"/images/{image.ManifestDigest.Hex}.tar", reference.Url.AbsolutePath);

        // What the server holds is byte for byte the deterministic tar, and the fragment is its digest.
        string onDisk = _nginx.FilePath(reference.Url.AbsolutePath);
        var tar = new MemoryStream();
        await image.WriteTarAsync(tar, CancellationToken.None);
        Assert.Equal(tar.ToArray(), await File.ReadAllBytesAsync(onDisk));
        Assert.Equal(Digest.Compute(tar.ToArray()), reference.Digest);

        var parsed = ContentReference.Parse(reference.ToString());
        var pulled = await backend.PullAsync(parsed, NewStore("pulled"), null, CancellationToken.None);
        Assert.Equal(image.ManifestDigest, pulled.ManifestDigest);
        Assert.Empty(pulled.Names); // the tar names the image; a name in an archive never becomes a name here (#13 §3)
    }

    [SkippableFact]
    public async Task A_flipped_byte_in_the_served_file_is_rejected_with_both_digests_and_nothing_stored()
    {
        var image = await SmallImage.ImportAsync(NewStore("source"), "http-tamper", layerSize: 200_000);
        var backend = new HttpBackend(new PeerOptions());
        var reference = (HttpReference)(await backend.PushAsync(image, ContentReference.ParseTarget($"http://{_nginx.HostPort}/t/"), null, CancellationToken.None)).Reference;
        SmallImage.FlipByte(_nginx.FilePath(reference.Url.AbsolutePath));

        var store = NewStore("victim");
        var e = await Assert.ThrowsAsync<DigestMismatchException>(() => backend.PullAsync(reference, store, null, CancellationToken.None));
        Assert.Equal(reference.Digest, e.Expected);
        Assert.Contains(e.Expected.Value, e.Message);
        Assert.Contains(e.Actual.Value, e.Message);
        Assert.Empty(SmallImage.StoredFiles(store));
    }

    [SkippableFact]
    public async Task A_plain_docker_save_archive_on_a_server_is_pulled_and_converted()
    {
        byte[] save = SmallImage.DockerSave("served");
        string path = _nginx.FilePath("saves/img.tar");
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        await File.WriteAllBytesAsync(path, save);
        var expected = await SmallImage.ImportAsync(NewStore("expected"), "served");
        var reference = ContentReference.Parse($"http://{_nginx.HostPort}/saves/img.tar#sha256={Digest.Compute(save).Hex}");
        var pulled = await new HttpBackend(new PeerOptions()).PullAsync(reference, NewStore("pulled"), null, CancellationToken.None);
        Assert.Equal(expected.ManifestDigest, pulled.ManifestDigest);
    }

    [SkippableFact]
    public async Task A_missing_file_is_not_found()
    {
        var reference = ContentReference.Parse($"http://{_nginx.HostPort}/none.tar#sha256={new string('0', 64)}");
        var e = await Assert.ThrowsAsync<StorageException>(() => new HttpBackend(new PeerOptions()).PullAsync(reference, NewStore("s"), null, CancellationToken.None));
        Assert.Equal(StorageErrorCodes.NotFound, e.Code);
    }
}

/// <summary>Servers that misbehave on purpose (raw sockets on 127.0.0.1): truncated bodies, stalls, 5xx, an answer before the whole upload; and a tar that changes between its two writes.</summary>
public sealed class FaultyServerTests : IDisposable
{
    private readonly TempDirectory _dir = new("im-faulty");

    public void Dispose() => _dir.Dispose();

    private static readonly string AnyDigest = new('a', 64);

    /// <summary>
    /// The tar is written twice and stored nowhere (its digest, then the request): what was sent is checked against
    /// what the reference names. A layer changed between the two writes (here by the test, after the server took the
    /// request head and before it reads the body: 80 MB, more than every buffer between them) fails the push with
    /// the digest mismatch named, and no reference.
    /// </summary>
    [Fact]
    public async Task A_layer_that_changes_between_the_two_writes_of_the_tar_fails_the_push_with_no_reference()
    {
        var image = await SmallImage.ImportAsync(new LocalContentStore(_dir.Combine("changing")), "http-changing", layerSize: 80 << 20);
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var headRead = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var goOn = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        long bodyBytes = 0;
        long declared = -1;
        var server = Task.Run(async () =>
        {
            using var client = await listener.AcceptTcpClientAsync();
            var stream = client.GetStream();
            var buffer = new byte[1 << 16];
            var head = new StringBuilder();
            int n;
            while (!head.ToString().Contains("\r\n\r\n", StringComparison.Ordinal) && (n = await stream.ReadAsync(buffer)) > 0)
                head.Append(Encoding.Latin1.GetString(buffer, 0, n));
            var text = head.ToString();
            bodyBytes = text.Length - (text.IndexOf("\r\n\r\n", StringComparison.Ordinal) + 4);
            declared = long.Parse(System.Text.RegularExpressions.Regex.Match(text, "(?im)^Content-Length: *([0-9]+)").Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
            headRead.SetResult();
            await goOn.Task;
            try
            {
                while ((n = await stream.ReadAsync(buffer)) > 0) bodyBytes += n;
            }
            catch (IOException)
            {
                // The client gave up on the request: what a server sees of a body that was not sent whole.
            }
        });

        var push = new HttpBackend(new PeerOptions()).PushAsync(image, ContentReference.ParseTarget($"http://127.0.0.1:{((IPEndPoint)listener.LocalEndpoint).Port}/images/"), null, CancellationToken.None);
        await headRead.Task.WaitAsync(TimeSpan.FromSeconds(60));
        var layer = image.BlobPath(image.Image.Layers.MaxBy(l => l.Size)!.Digest);
        SmallImage.FlipByte(layer, new FileInfo(layer).Length - 4096);
        goOn.SetResult();
        var e = await Assert.ThrowsAsync<OciException>(() => push);
        Assert.Equal(OciErrorCodes.DigestMismatch, e.Code);
        Assert.Contains("changed between the two writes of its tar", e.Message, StringComparison.Ordinal);
        Assert.Contains("does not match its digest", e.Message, StringComparison.Ordinal);
        await server.WaitAsync(TimeSpan.FromSeconds(30));
        // The body declared its size up front (Content-Length), and its last bytes never left: the server holds no whole file.
        Assert.True(declared > image.Size, $"Content-Length {declared}");
        Assert.True(bodyBytes < declared, $"the server got {bodyBytes} of the {declared} bytes declared: the request was not ended short");
    }

    /// <summary>A server that answers 2xx before it took the whole tar may hold part of it: no reference names that.</summary>
    [Fact]
    public async Task A_server_that_answers_before_it_took_the_whole_tar_gets_no_reference()
    {
        var image = await SmallImage.ImportAsync(new LocalContentStore(_dir.Combine("early")), "http-early", layerSize: 16 << 20);
        await using var server = RawServer.Start("HTTP/1.1 201 Created\r\nContent-Length: 0\r\nConnection: close\r\n\r\n", closeAfter: true);
        var e = await Assert.ThrowsAnyAsync<InfraMindException>(() =>
            new HttpBackend(new PeerOptions()).PushAsync(image, ContentReference.ParseTarget($"http://127.0.0.1:{server.Port}/images/"), null, CancellationToken.None));
        Assert.True(e.Code == StorageErrorCodes.PeerRejected || e.Code == StorageErrorCodes.PeerUnavailable, $"{e.Code}: {e.Message}");
    }

    [Fact]
    public async Task Truncated_body_is_an_incomplete_transfer_and_leaves_nothing()
    {
        await using var server = RawServer.Start("HTTP/1.1 200 OK\r\nContent-Length: 100000\r\nConnection: close\r\n\r\n" + new string('x', 5000), closeAfter: true);
        var store = new LocalContentStore(_dir.Combine("s"));
        var e = await Assert.ThrowsAsync<StorageException>(() =>
            new HttpBackend(new PeerOptions()).PullAsync(ContentReference.Parse($"http://127.0.0.1:{server.Port}/x.tar#sha256={AnyDigest}"), store, null, CancellationToken.None));
        Assert.Equal(StorageErrorCodes.PeerUnavailable, e.Code);
        Assert.Contains("closed the connection after 5000 bytes", e.Message);
        Assert.Empty(SmallImage.StoredFiles(store));
    }

    [Fact]
    public async Task Stalled_body_fails_after_the_stall_timeout_and_leaves_nothing()
    {
        await using var server = RawServer.Start("HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n" + new string('x', 100), closeAfter: false);
        var store = new LocalContentStore(_dir.Combine("s"));
        var started = DateTime.UtcNow;
        var e = await Assert.ThrowsAsync<StorageException>(() =>
            new HttpBackend(new PeerOptions { StallTimeout = TimeSpan.FromSeconds(1) })
                .PullAsync(ContentReference.Parse($"http://127.0.0.1:{server.Port}/x.tar#sha256={AnyDigest}"), store, null, CancellationToken.None));
        Assert.Equal(StorageErrorCodes.PeerUnavailable, e.Code);
        Assert.Contains("sent nothing for 1 s after 100 bytes", e.Message);
        Assert.True(DateTime.UtcNow - started < TimeSpan.FromSeconds(10));
        Assert.Empty(SmallImage.StoredFiles(store));
    }

    [Fact]
    public async Task Server_error_is_a_rejected_request_with_its_status_but_never_its_body()
    {
        await using var server = RawServer.Start("HTTP/1.1 503 Service Unavailable\r\nContent-Length: 11\r\nConnection: close\r\n\r\nmaintenance", closeAfter: true);
        var e = await Assert.ThrowsAsync<StorageException>(() =>
            new HttpBackend(new PeerOptions()).PullAsync(ContentReference.Parse($"http://127.0.0.1:{server.Port}/x.tar#sha256={AnyDigest}"), new LocalContentStore(_dir.Combine("s")), null, CancellationToken.None));
        Assert.Equal(StorageErrorCodes.PeerRejected, e.Code);
        Assert.Contains("503", e.Message);
        Assert.DoesNotContain("maintenance", e.Message); // a peer's body may hold anything it knows: never repeated (#13 §1)
        Assert.Equal(FailureKind.Unavailable, e.Kind);
    }

    [Fact]
    public async Task Registry_answering_5xx_is_a_rejected_request()
    {
        await using var server = RawServer.Start("HTTP/1.1 500 Internal Server Error\r\nContent-Length: 4\r\nConnection: close\r\n\r\noops", closeAfter: true);
        var e = await Assert.ThrowsAsync<StorageException>(() =>
            new Storage.Registry.RegistryBackend(new PeerOptions()).PullAsync(ContentReference.Parse($"oci://127.0.0.1:{server.Port}/x:1"), new LocalContentStore(_dir.Combine("s")), null, CancellationToken.None));
        Assert.Equal(StorageErrorCodes.PeerRejected, e.Code);
        Assert.Contains("500", e.Message);
    }

    /// <summary>Answers every connection with the same bytes, then closes it or keeps it open (a stall).</summary>
    private sealed class RawServer : IAsyncDisposable
    {
        private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
        private readonly CancellationTokenSource _stop = new();
        private readonly List<TcpClient> _clients = [];
        private Task _loop = Task.CompletedTask;

        public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

        public static RawServer Start(string response, bool closeAfter)
        {
            var s = new RawServer();
            s._listener.Start();
            s._loop = s.RunAsync(Encoding.ASCII.GetBytes(response), closeAfter);
            return s;
        }

        private async Task RunAsync(byte[] response, bool closeAfter)
        {
            try
            {
                while (!_stop.IsCancellationRequested)
                {
                    var client = await _listener.AcceptTcpClientAsync(_stop.Token);
                    lock (_clients) _clients.Add(client);
                    var stream = client.GetStream();
                    // Read the request head before answering, as a server would.
                    var buffer = new byte[8192];
                    var head = new StringBuilder();
                    while (!head.ToString().Contains("\r\n\r\n", StringComparison.Ordinal))
                    {
                        int n = await stream.ReadAsync(buffer, _stop.Token);
                        if (n == 0) break;
                        head.Append(Encoding.ASCII.GetString(buffer, 0, n));
                    }

                    await stream.WriteAsync(response, _stop.Token);
                    await stream.FlushAsync(_stop.Token);
                    if (closeAfter) client.Close();
                }
            }
            catch (OperationCanceledException)
            {
            }
            catch (IOException)
            {
            }
        }

        public async ValueTask DisposeAsync()
        {
            await _stop.CancelAsync();
            _listener.Stop();
            lock (_clients) _clients.ForEach(c => c.Dispose());
            await _loop;
            _stop.Dispose();
        }
    }
}
