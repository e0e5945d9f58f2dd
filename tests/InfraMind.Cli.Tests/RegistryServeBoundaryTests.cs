using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using InfraMind.Signing;
using InfraMind.Testing;

namespace InfraMind.Cli.Tests;

/// <summary>
/// A stranger against the real `infra registry serve` (#13 §1, §3, §4, §10): every publish below is signed here and
/// POSTed as it is; the content it names lives on listeners the test starts on 127.0.0.1 (and 127.0.0.2), which count
/// what the registry asked of them.
/// </summary>
public sealed class RegistryServeBoundaryTests : IAsyncLifetime, IDisposable
{
    private readonly TempDirectory _dir = new("im-serve-boundary");
    private readonly SigningKey _alice = SigningKey.CreateEphemeral("alice");
    private readonly SigningKey _mallory = SigningKey.CreateEphemeral("mallory");
    private RegistryServeProcess _registry = null!;

    public async Task InitializeAsync() =>
        _registry = await RegistryServeProcess.StartAsync(_dir.Combine("home"), "--fetch-allow", "127.0.0.1", "--max-image-size", "16Mi");

    public async Task DisposeAsync() => await _registry.DisposeAsync();

    public void Dispose()
    {
        _alice.Dispose();
        _mallory.Dispose();
        _dir.Dispose();
    }

    /// <summary>An image's layout tar served at /image.tar by a listener that counts connections; its reference and image digest.</summary>
    private (RawHttpServer Server, string Reference, string ImageDigest) Serve(string? name = null, IReadOnlyDictionary<string, string>? labels = null, string seed = "small")
    {
        var tar = _dir.Combine($"image-{Guid.NewGuid():N}.tar");
        var digest = HostileArchives.Image(tar, name, labels, seed);
        var bytes = File.ReadAllBytes(tar);
        var server = new RawHttpServer(r => r.Path == "/image.tar" ? (200, null, bytes) : (404, null, []));
        return (server, $"http://127.0.0.1:{server.Port}/image.tar#sha256={HostileArchives.Sha256(bytes)["sha256:".Length..]}", digest);
    }

    private static readonly string AnyImage = "sha256:" + new string('b', 64);
    private static readonly string AnyHex = new('c', 64);

    [Fact]
    public async Task File_and_local_references_get_one_answer_whatever_exists_on_the_registrys_host()
    {
        var answers = new List<string>();
        foreach (var reference in new[] { "file:///etc/shadow", "file:///nonexistent/x.tar", "file:///root", "file:///etc/hostname" })
        {
            var (status, code, detail, _) = await _registry.PublishAsync(RegistryServeProcess.Envelope(_alice, "probe", "1.0.0", AnyImage, reference));
            Assert.Equal((422, "IM5145"), (status, code));
            answers.Add(detail);
        }

        Assert.Single(answers.Distinct());
        var local = await _registry.PublishAsync(RegistryServeProcess.Envelope(_alice, "probe", "1.0.0", AnyImage, "local://python:3.10-slim"));
        Assert.Equal((422, "IM5145"), (local.Status, local.Code));
    }

    [Fact]
    public async Task Two_hundred_references_are_refused_at_once_and_nothing_is_fetched()
    {
        await using var listener = new RawHttpServer(_ => (404, null, []));
        var references = Enumerable.Range(0, 200).Select(i => $"http://127.0.0.1:{listener.Port}/{i}.tar#sha256={AnyHex}").ToArray();
        var clock = Stopwatch.StartNew();
        var (status, code, detail, _) = await _registry.PublishAsync(RegistryServeProcess.Envelope(_alice, "many", "1.0.0", AnyImage, references));
        Assert.Equal((422, "IM5146"), (status, code));
        Assert.Contains("200", detail, StringComparison.Ordinal);
        Assert.Equal(0, listener.Connections);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(10), clock.Elapsed.ToString());
    }

    [Fact]
    public async Task A_publish_by_a_non_owner_or_of_an_existing_version_makes_the_registry_fetch_nothing()
    {
        var (server, reference, digest) = Serve();
        await using (server)
        {
            var first = RegistryServeProcess.Envelope(_alice, "owned", "1.0.0", digest, reference);
            Assert.Equal(201, (await _registry.PublishAsync(first)).Status);
            var fetched = server.Connections;
            Assert.Equal(1, fetched);

            var notOwner = await _registry.PublishAsync(RegistryServeProcess.Envelope(_mallory, "owned", "2.0.0", digest, reference));
            Assert.Equal((403, "IM5101"), (notOwner.Status, notOwner.Code));
            var existing = await _registry.PublishAsync(RegistryServeProcess.Envelope(_alice, "owned", "1.0.0", AnyImage, reference));
            Assert.Equal((409, "IM5102"), (existing.Status, existing.Code));
            Assert.Equal(200, (await _registry.PublishAsync(first)).Status);
            Assert.Equal(fetched, server.Connections);
        }
    }

    [Fact]
    public async Task A_redirect_to_another_host_is_not_followed()
    {
        var (target, reference, digest) = Serve();
        await using (target)
        await using (var redirecting = new RawHttpServer(r => (302, new Dictionary<string, string> { ["Location"] = $"http://127.0.0.1:{target.Port}/image.tar" }, [])))
        {
            var redirected = reference.Replace($":{target.Port}/", $":{redirecting.Port}/", StringComparison.Ordinal);
            var (status, code, detail, _) = await _registry.PublishAsync(RegistryServeProcess.Envelope(_alice, "redirected", "1.0.0", digest, redirected));
            Assert.Equal((422, "IM5143"), (status, code));
            Assert.Contains("IM4213", detail, StringComparison.Ordinal);
            Assert.Equal(1, redirecting.Connections);
            Assert.Equal(0, target.Connections);
        }
    }

    [Fact]
    public async Task A_loopback_destination_not_allow_listed_is_refused_before_connecting()
    {
        // The registry allows 127.0.0.1 only: 127.0.0.2 is another loopback address, as a local service would be.
        using var listener = new TcpListener(IPAddress.Parse("127.0.0.2"), 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        var (status, code, detail, _) = await _registry.PublishAsync(
            RegistryServeProcess.Envelope(_alice, "ssrf", "1.0.0", AnyImage, $"http://127.0.0.2:{port}/admin#sha256={AnyHex}"));
        Assert.Equal((422, "IM5143"), (status, code));
        Assert.Contains("IM4212", detail, StringComparison.Ordinal);
        Assert.False(listener.Pending(), "the registry connected to 127.0.0.2");
    }

    [Fact]
    public async Task A_peers_secret_bearing_error_body_never_reaches_the_publisher()
    {
        await using var service = new RawHttpServer(_ => (500, null, Encoding.UTF8.GetBytes("internal error; db_password=hunter2")));
        var (status, code, detail, response) = await _registry.PublishAsync(
            RegistryServeProcess.Envelope(_alice, "leak", "1.0.0", AnyImage, $"http://127.0.0.1:{service.Port}/x.tar#sha256={AnyHex}"));
        Assert.Equal((422, "IM5143"), (status, code));
        Assert.Contains("500", detail, StringComparison.Ordinal);
        var whole = await response.Content.ReadAsStringAsync();
        Assert.DoesNotContain("hunter2", whole, StringComparison.Ordinal);
        Assert.DoesNotContain("db_password", whole, StringComparison.Ordinal);
    }

    private string[] StoreFiles() =>
        Directory.Exists(_registry.Store)
            ? [.. Directory.GetFiles(_registry.Store, "*", SearchOption.AllDirectories).Where(f => !f.EndsWith(".lock", StringComparison.Ordinal) && !f.EndsWith("oci-layout", StringComparison.Ordinal))]
            : [];

    [Fact]
    public async Task A_refused_publish_leaves_the_hosts_store_untouched_and_names_inside_an_archive_never_become_names()
    {
        // The archive names itself python:3.10-slim, as an attacker's would.
        var (server, reference, digest) = Serve(name: "python:3.10-slim");
        await using (server)
        {
            var before = StoreFiles();
            var wrong = await _registry.PublishAsync(RegistryServeProcess.Envelope(_alice, "named", "1.0.0", AnyImage, reference));
            Assert.Equal((422, "IM5144"), (wrong.Status, wrong.Code));
            Assert.Equal(before, StoreFiles()); // fetched, refused, gone: no blob, no index, no staging left

            Assert.Equal(201, (await _registry.PublishAsync(RegistryServeProcess.Envelope(_alice, "named", "1.0.0", digest, reference))).Status);
            var index = await File.ReadAllTextAsync(Path.Combine(_registry.Store, "index.json"));
            Assert.Contains(digest, index, StringComparison.Ordinal); // kept once accepted, for this host's nodes
            Assert.DoesNotContain("python", index, StringComparison.Ordinal);
            Assert.Empty(Directory.GetDirectories(Path.Combine(_registry.Store, "staging")));
        }
    }

    /// <summary>The bytes of the distinct blobs in layout tars (what adopting their images would add to an empty store).</summary>
    private static long BlobBytes(params string[] tars)
    {
        var sizes = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (var tar in tars)
        {
            using var reader = new System.Formats.Tar.TarReader(File.OpenRead(tar));
            while (reader.GetNextEntry() is { } entry)
            {
                if (entry.EntryType is System.Formats.Tar.TarEntryType.RegularFile or System.Formats.Tar.TarEntryType.V7RegularFile
                    && entry.Name.StartsWith("blobs/sha256/", StringComparison.Ordinal))
                    sizes[entry.Name] = entry.Length;
            }
        }

        return sizes.Values.Sum();
    }

    [Fact]
    public async Task Accepted_images_are_kept_only_within_the_keep_budget_and_their_entries_logged_all_the_same()
    {
        var tars = new[] { _dir.Combine("keep-1.tar"), _dir.Combine("keep-2.tar") };
        var digests = new[] { HostileArchives.Image(tars[0], null, null, "keep-one"), HostileArchives.Image(tars[1], null, null, "keep-two") };
        // Room for the first image and not for both: the second does not fit once the first is kept.
        var budget = BlobBytes(tars) - 1;
        Assert.True(BlobBytes(tars[0]) <= budget);
        await using var registry = await RegistryServeProcess.StartAsync(_dir.Combine("keep-home"), "--fetch-allow", "127.0.0.1", "--keep-images",
            budget.ToString(System.Globalization.CultureInfo.InvariantCulture));
        var bytes = tars.Select(File.ReadAllBytes).ToArray();
        await using var server = new RawHttpServer(r => r.Path is "/1.tar" ? (200, null, bytes[0]) : r.Path is "/2.tar" ? (200, null, bytes[1]) : (404, null, []));
        for (var i = 0; i < 2; i++)
        {
            var reference = $"http://127.0.0.1:{server.Port}/{i + 1}.tar#sha256={HostileArchives.Sha256(bytes[i])["sha256:".Length..]}";
            var published = await registry.PublishAsync(RegistryServeProcess.Envelope(_alice, "kept", $"1.0.{i}", digests[i], reference));
            Assert.Equal(201, published.Status);
        }

        var index = await File.ReadAllTextAsync(Path.Combine(registry.Store, "index.json"));
        Assert.Contains(digests[0], index, StringComparison.Ordinal);
        Assert.DoesNotContain(digests[1], index, StringComparison.Ordinal); // logged (201), not kept: over the budget
        Assert.True(Directory.GetFiles(Path.Combine(registry.Store, "blobs", "sha256")).Sum(f => new FileInfo(f).Length) <= budget);
        Assert.Empty(Directory.GetDirectories(Path.Combine(registry.Store, "staging")));
    }

    [Fact]
    public async Task Publishes_beyond_the_fetches_at_once_are_refused_until_one_ends()
    {
        await using var registry = await RegistryServeProcess.StartAsync(_dir.Combine("fetches-home"), "--fetch-allow", "127.0.0.1", "--max-fetches", "1");
        // A content server that takes the connection and answers nothing until the test lets go of it.
        using var silent = new TcpListener(IPAddress.Loopback, 0);
        silent.Start();
        var port = ((IPEndPoint)silent.LocalEndpoint).Port;
        var first = registry.PublishAsync(RegistryServeProcess.Envelope(_alice, "slow", "1.0.0", AnyImage, $"http://127.0.0.1:{port}/slow.tar#sha256={AnyHex}"));
        using (await silent.AcceptTcpClientAsync().WaitAsync(TimeSpan.FromSeconds(30)))
        {
            var (status, code, detail, response) = await registry.PublishAsync(RegistryServeProcess.Envelope(_alice, "waiting", "1.0.0", AnyImage, $"http://127.0.0.1:{port}/w.tar#sha256={AnyHex}"));
            Assert.Equal((503, "IM5114"), (status, code));
            Assert.Contains("checking 1 publishes' content already", detail, StringComparison.Ordinal);
            Assert.Equal(TimeSpan.FromSeconds(5), response.Headers.RetryAfter?.Delta);
            Assert.False(silent.Pending(), "the refused publish's content was fetched");
            silent.Stop(); // a try again is refused at once rather than held
        }

        // The held connection closed: the first publish fails on its content, and its slot is free again.
        Assert.Equal(422, (await first).Status);
        var (server, reference, digest) = Serve(seed: "after-busy");
        await using (server)
            Assert.Equal(201, (await registry.PublishAsync(RegistryServeProcess.Envelope(_alice, "waiting", "1.0.0", digest, reference))).Status);
    }

    [Fact]
    public async Task A_keep_budget_of_0_keeps_no_image_and_logs_the_entry()
    {
        await using var registry = await RegistryServeProcess.StartAsync(_dir.Combine("keep-none-home"), "--fetch-allow", "127.0.0.1", "--keep-images", "0");
        var (server, reference, digest) = Serve(seed: "keep-none");
        await using (server)
            Assert.Equal(201, (await registry.PublishAsync(RegistryServeProcess.Envelope(_alice, "unkept", "1.0.0", digest, reference))).Status);
        var index = Path.Combine(registry.Store, "index.json");
        Assert.False(File.Exists(index) && (await File.ReadAllTextAsync(index)).Contains(digest, StringComparison.Ordinal), "a budget of 0 kept the image");
    }

    [Fact]
    public async Task A_keep_budget_that_is_no_size_is_a_usage_error_before_anything_starts()
    {
        var bad = await InfraProcess.RunAsync(_dir.Combine("bad-home"), "registry", "serve", "--port", "0", "--keep-images", "lots");
        Assert.Equal(2, bad.Code);
        Assert.Contains("--keep-images: 'lots' is not a quantity", bad.Err, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Below_the_disk_floor_a_publish_is_refused_with_IM5153_and_a_floor_that_is_no_size_is_a_usage_error()
    {
        // A floor far above any disk: `registry serve` starts, and refuses every publish before it reads or fetches anything.
        await using (var registry = await RegistryServeProcess.StartAsync(_dir.Combine("floor-home"), "--fetch-allow", "127.0.0.1", "--min-free-disk", "1000Pi"))
        {
            var (server, reference, digest) = Serve(seed: "floor");
            await using (server)
            {
                var (status, code, detail, _) = await registry.PublishAsync(RegistryServeProcess.Envelope(_alice, "floored", "1.0.0", digest, reference));
                Assert.Equal((503, "IM5153"), (status, code));
                Assert.Contains("below its floor of 1000Pi", detail, StringComparison.Ordinal);
            }
        }

        var bad = await InfraProcess.RunAsync(_dir.Combine("bad-floor-home"), "registry", "serve", "--port", "0", "--min-free-disk", "lots");
        Assert.Equal(2, bad.Code);
        Assert.Contains("--min-free-disk: 'lots' is not a quantity", bad.Err, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_image_built_from_another_manifest_is_refused()
    {
        var other = RegistryServeProcess.ManifestDigest("bound", "9.9.9");
        var (server, reference, digest) = Serve(labels: new Dictionary<string, string> { ["org.inframind.manifest-digest"] = other }, seed: "bound");
        await using (server)
        {
            var (status, code, detail, _) = await _registry.PublishAsync(RegistryServeProcess.Envelope(_alice, "bound", "1.0.0", digest, reference));
            Assert.Equal((422, "IM5147"), (status, code));
            Assert.Contains(other, detail, StringComparison.Ordinal);
            Assert.Contains(RegistryServeProcess.ManifestDigest("bound", "1.0.0"), detail, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task The_300x_index_and_deep_nesting_are_refused_with_IM4012_in_seconds()
    {
        foreach (var (tar, marker) in new[] { ("repeated", "lists 300 manifests"), ("nested", "nest deeper") })
        {
            var path = _dir.Combine(tar + ".tar");
            var digest = tar == "repeated" ? AnyImage : HostileArchives.NestedIndexes(path, 5);
            if (tar == "repeated") HostileArchives.RepeatedManifest(path);
            var bytes = await File.ReadAllBytesAsync(path);
            await using var server = new RawHttpServer(_ => (200, null, bytes));
            var clock = Stopwatch.StartNew();
            var (status, code, detail, _) = await _registry.PublishAsync(RegistryServeProcess.Envelope(_alice, tar, "1.0.0", digest,
                $"http://127.0.0.1:{server.Port}/{tar}.tar#sha256={HostileArchives.Sha256(bytes)["sha256:".Length..]}"));
            Assert.Equal((422, "IM5143"), (status, code));
            Assert.Contains("IM4012", detail, StringComparison.Ordinal);
            Assert.Contains(marker, detail, StringComparison.Ordinal);
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(30), $"{tar}: {clock.Elapsed}");
        }
    }

    /// <summary>Serves 50 MB without a length and counts what it got to send before the registry hung up.</summary>
    private sealed class Flood : IAsyncDisposable
    {
        private readonly ListenerServer _server;
        private long _sent;

        public Flood() => _server = new ListenerServer(async (context, ct) =>
        {
            var r = context.Response;
            r.SendChunked = true;
            var chunk = new byte[64 << 10];
            try
            {
                while (Interlocked.Read(ref _sent) < 50L << 20)
                {
                    await r.OutputStream.WriteAsync(chunk, ct);
                    Interlocked.Add(ref _sent, chunk.Length);
                }

                r.Close();
            }
            catch (Exception e) when (e is HttpListenerException or IOException or ObjectDisposedException)
            {
                r.Abort();
            }
        });

        public int Port => _server.Port;

        public long Sent => Interlocked.Read(ref _sent);

        public ValueTask DisposeAsync() => _server.DisposeAsync();
    }

    [Fact]
    public async Task A_50MB_body_is_refused_at_the_cap_without_being_read_whole()
    {
        await using var flood = new Flood();
        var (status, code, detail, _) = await _registry.PublishAsync(
            RegistryServeProcess.Envelope(_alice, "flood", "1.0.0", AnyImage, $"http://127.0.0.1:{flood.Port}/big.tar#sha256={AnyHex}"));
        Assert.Equal((422, "IM5143"), (status, code));
        Assert.Contains("IM4214", detail, StringComparison.Ordinal);
        Assert.True(flood.Sent < 32L << 20, $"{flood.Sent} of 50 MB sent to a registry capped at 16 MiB");
        Assert.Empty(Directory.GetDirectories(Path.Combine(_registry.Store, "staging")));
    }

    [Fact]
    public async Task Signatures_are_capped_and_bodies_too_on_the_real_server()
    {
        var envelope = RegistryServeProcess.Envelope(_alice, "sigs", "1.0.0", AnyImage, $"http://127.0.0.1:9/x.tar#sha256={AnyHex}");
        var junk = Enumerable.Range(0, 1000).Select(i => new DsseSignature("", Encoding.ASCII.GetBytes($"junk-{i}"))).ToList();
        var flood = await _registry.PublishAsync(envelope with { Signatures = [.. junk, .. envelope.Signatures] });
        Assert.Equal((400, "IM5109"), (flood.Status, flood.Code));

        using var big = new ByteArrayContent(new byte[7 << 20]);
        using var refused = await _registry.Http.PostAsync(new Uri("v1/entries", UriKind.Relative), big);
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, refused.StatusCode);
        Assert.Contains("IM5108", await refused.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Publishes_over_the_per_address_rate_are_429_with_Retry_After()
    {
        await using var limited = await RegistryServeProcess.StartAsync(_dir.Combine("limited-home"), "--publish-rate-per-address", "2");
        var envelope = RegistryServeProcess.Envelope(_alice, "rated", "1.0.0", AnyImage, "local://sha256:" + AnyHex);
        for (var i = 0; i < 2; i++) Assert.Equal(422, (await limited.PublishAsync(envelope)).Status);
        var (status, code, _, response) = await limited.PublishAsync(envelope);
        Assert.Equal((429, "IM5104"), (status, code));
        Assert.NotNull(response.Headers.RetryAfter);
    }
}
