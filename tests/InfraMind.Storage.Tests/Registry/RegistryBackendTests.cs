using InfraMind.Oci;
using InfraMind.Storage.Registry;
using InfraMind.Storage.Tests.Content;
using InfraMind.Testing;

namespace InfraMind.Storage.Tests.Registry;

/// <summary>Push and pull against a real registry (Debian docker-registry) on a 127.0.0.1 port of the test's own.</summary>
public sealed class RegistryBackendTests : IAsyncLifetime, IDisposable
{
    private readonly TempDirectory _dir = new("im-regtest");
    private RegistryPeer _registry = null!;

    public async Task InitializeAsync() => _registry = await RegistryPeer.StartAsync();

    public async Task DisposeAsync()
    {
        if (_registry is not null) await _registry.DisposeAsync();
    }

    public void Dispose() => _dir.Dispose();

    private LocalContentStore NewStore(string name) => new(_dir.Combine(name));

    private OciReference Target(string repo, string? tag = "1.0") => (OciReference)ContentReference.ParseTarget($"oci://{_registry.HostPort}/{repo}" + (tag is null ? "" : ":" + tag));

    [SkippableFact]
    public async Task Push_then_pull_by_digest_and_by_tag_gives_the_same_verified_image()
    {
        var image = await SmallImage.ImportAsync(NewStore("source"), "rt", layerSize: 300_000);
        var backend = new RegistryBackend(new PeerOptions());
        var pushed = await backend.PushAsync(image, Target("models/rt"), null, CancellationToken.None);
        var pinned = Assert.IsType<OciReference>(pushed.Reference);
        Assert.Equal(image.ManifestDigest, pinned.Digest);
        Assert.Equal($"oci://{_registry.HostPort}/models/rt:1.0@{image.ManifestDigest}", pinned.ToString());

        // The registry stored exactly our bytes under our digest.
        Assert.Equal(await image.ReadManifestAsync(CancellationToken.None), await File.ReadAllBytesAsync(_registry.BlobDataPath(image.ManifestDigest.Value)));

        var byDigest = await backend.PullAsync(pinned with { Tag = null }, NewStore("d"), null, CancellationToken.None);
        var byTag = await backend.PullAsync(Target("models/rt"), NewStore("t"), null, CancellationToken.None);
        Assert.Equal(image.ManifestDigest, byDigest.ManifestDigest);
        Assert.Equal(image.ManifestDigest, byTag.ManifestDigest);
        Assert.Equal(image.LayerDigests, byTag.LayerDigests);
        Assert.Equal([$"{_registry.HostPort}/models/rt:1.0"], byTag.Names);
    }

    /// <summary>
    /// The byte cap of a fetch on a publisher's behalf (<c>--max-image-size</c>): an image whose manifest declares more
    /// is refused from the manifest, before any blob is asked for, and the store stays empty.
    /// </summary>
    [SkippableFact]
    public async Task An_image_declaring_more_than_the_byte_cap_is_refused_before_any_blob_is_fetched()
    {
        var image = await SmallImage.ImportAsync(NewStore("capped-source"), "capped", layerSize: 3 << 20);
        var pushed = await new RegistryBackend(new PeerOptions()).PushAsync(image, Target("models/capped"), null, CancellationToken.None);
        var policy = FetchPolicy.OnBehalfOfPublishers([System.Net.IPNetwork.Parse("127.0.0.1/32")], hostLocalReferences: false, maxImageBytes: 1 << 20);
        var store = NewStore("capped");
        var e = await Assert.ThrowsAsync<StorageException>(() =>
            new RegistryBackend(new PeerOptions { Policy = policy }).PullAsync(pushed.Reference, store, null, CancellationToken.None));
        Assert.Equal(StorageErrorCodes.TooLarge, e.Code);
        Assert.Contains($"declares {image.Size} bytes, more than the {1 << 20} bytes", e.Message, StringComparison.Ordinal);
        Assert.Empty(SmallImage.StoredFiles(store));
    }

    [SkippableFact]
    public async Task Second_push_uploads_nothing_and_mount_reuses_blobs_of_another_repository()
    {
        var image = await SmallImage.ImportAsync(NewStore("source"), "mount");
        await new RegistryBackend(new PeerOptions()).PushAsync(image, Target("a"), null, CancellationToken.None);

        var again = new Reports();
        await new RegistryBackend(new PeerOptions()).PushAsync(image, Target("a", "2.0"), again, CancellationToken.None);
        // Every blob is reported, and every one as skipped (an empty report would prove nothing).
        Assert.Equal(image.Blobs.Select(b => b.Digest.Value).Order(), again.Done.Select(r => r.What).Order());
        Assert.All(again.Done, r => Assert.True(r.Skipped, $"{r.What} was uploaded again"));

        var mounted = new Reports();
        await new RegistryBackend(new PeerOptions { MountFrom = "a" }).PushAsync(image, Target("b"), mounted, CancellationToken.None);
        Assert.Equal(3, mounted.Done.Count(r => r.Skipped));
        var pulled = await new RegistryBackend(new PeerOptions()).PullAsync(Target("b"), NewStore("b"), null, CancellationToken.None);
        Assert.Equal(image.ManifestDigest, pulled.ManifestDigest);
    }

    [SkippableFact]
    public async Task Forgetting_a_fetched_copy_forgets_where_its_own_blobs_came_from()
    {
        // Two strangers' images sharing a base layer, fetched by digest (nameless, as a node fetches them).
        var source = NewStore("publisher");
        var gone = await SmallImage.ImportAsync(source, "gone", layerSize: 300_000, firstLayer: "base");
        var kept = await SmallImage.ImportAsync(source, "kept", layerSize: 300_000, firstLayer: "base");
        var store = NewStore("node");
        var resolver = new ContentResolver(store);
        foreach (var (image, repo) in new[] { (gone, "strangers/gone"), (kept, "strangers/kept") })
        {
            var pushed = Assert.IsType<OciReference>((await new RegistryBackend(new PeerOptions()).PushAsync(image, Target(repo), null, CancellationToken.None)).Reference);
            await resolver.ResolveAsync(pushed with { Tag = null }, null, CancellationToken.None);
        }

        var origins = new BlobOrigins(Path.Combine(store.Root, "origins"));
        Assert.All(gone.Blobs, b => Assert.NotNull(origins.Find(_registry.HostPort, b.Digest, "elsewhere")));
        var shared = Assert.Single(gone.LayerDigests.Intersect(kept.LayerDigests));

        var forgotten = await resolver.ForgetAsync(gone.ManifestDigest, CancellationToken.None);
        Assert.Equal(gone.Blobs.Count, forgotten.Blobs.Count); // its manifest, config and own layers; not the shared one
        Assert.All(gone.Blobs.Where(b => b.Digest != shared), b => Assert.Null(origins.Find(_registry.HostPort, b.Digest, "elsewhere")));
        Assert.Equal("strangers/kept", origins.Find(_registry.HostPort, shared, "elsewhere"));
        Assert.All(kept.Blobs, b => Assert.Equal("strangers/kept", origins.Find(_registry.HostPort, b.Digest, "elsewhere")));
        Assert.Equal(kept.Blobs.Count, Directory.EnumerateFiles(Path.Combine(store.Root, "origins"), "*", SearchOption.AllDirectories).Count());
    }

    [SkippableFact]
    public async Task A_push_to_another_repository_mounts_the_blobs_the_store_remembers_without_being_told()
    {
        var image = await SmallImage.ImportAsync(NewStore("source"), "automount", layerSize: 300_000);
        var origins = new BlobOrigins(_dir.Combine("origins"));
        await new RegistryBackend(new PeerOptions(), origins).PushAsync(image, Target("first"), null, CancellationToken.None);
        Assert.All(image.Blobs, b => Assert.Equal("first", origins.Find(_registry.HostPort, b.Digest, "second")));
        Assert.Null(origins.Find(_registry.HostPort, image.ConfigDigest, "first"));
        Assert.Null(origins.Find("127.0.0.1:1", image.ConfigDigest, "second"));

        // "second" holds none of them (HEAD says 404), so each is mounted from "first" instead of uploaded.
        var mounted = new Reports();
        await new RegistryBackend(new PeerOptions(), origins).PushAsync(image, Target("second"), mounted, CancellationToken.None);
        Assert.Equal(image.Blobs.Count, mounted.Done.Count(r => r.Skipped));
        Assert.DoesNotContain(mounted.Done, r => !r.Skipped);

        // A stale memory (the repository is gone or never had it) costs nothing: the registry starts an upload instead.
        origins.Record(_registry.HostPort, "never-pushed", image.Blobs.Select(b => b.Digest));
        var uploaded = new Reports();
        await new RegistryBackend(new PeerOptions(), origins).PushAsync(image, Target("third"), uploaded, CancellationToken.None);
        Assert.Contains(uploaded.Done, r => !r.Skipped);
        var pulled = await new RegistryBackend(new PeerOptions()).PullAsync(Target("third"), NewStore("third"), null, CancellationToken.None);
        Assert.Equal(image.ManifestDigest, pulled.ManifestDigest);
    }

    [SkippableFact]
    public async Task Chunked_upload_gives_the_same_image()
    {
        var image = await SmallImage.ImportAsync(NewStore("source"), "chunks", layerSize: 1_000_000);
        var options = new PeerOptions { ChunkedUploadThreshold = 100_000, ChunkSize = 256 * 1024 };
        var pushed = await new RegistryBackend(options).PushAsync(image, Target("chunked"), null, CancellationToken.None);
        var pulled = await new RegistryBackend(new PeerOptions()).PullAsync(pushed.Reference, NewStore("p"), null, CancellationToken.None);
        Assert.Equal(image.ManifestDigest, pulled.ManifestDigest);
        // The chunked path was taken: the registry's access log shows the ~1 MB layer sent as four 256 KiB PATCHes.
        var patches = _registry.Log.Split('\n').Count(l => l.Contains("\"PATCH /v2/chunked/blobs/uploads/", StringComparison.Ordinal));
        Assert.True(patches >= 4, $"{patches} PATCH requests reached the registry for the chunked push; the log:\n{_registry.Log}");
    }

    public enum Part { Layer, Config, Manifest }

    [SkippableTheory]
    [InlineData(Part.Layer)]
    [InlineData(Part.Config)]
    [InlineData(Part.Manifest)]
    public async Task One_flipped_byte_in_registry_storage_is_rejected_with_both_digests_and_nothing_stored(Part part)
    {
        var image = await SmallImage.ImportAsync(NewStore("source"), "tamper-" + part, layerSize: 50_000);
        var backend = new RegistryBackend(new PeerOptions());
        var pushed = (OciReference)(await backend.PushAsync(image, Target("tamper"), null, CancellationToken.None)).Reference;
        var victim = part switch
        {
            Part.Layer => image.LayerDigests[1],
            Part.Config => image.ConfigDigest,
            _ => image.ManifestDigest,
        };
        SmallImage.FlipByte(_registry.BlobDataPath(victim.Value), part == Part.Manifest ? await SizeDigitOffsetAsync(image) : -1);

        var store = NewStore("victim");
        var e = await Assert.ThrowsAsync<DigestMismatchException>(() => backend.PullAsync(pushed with { Tag = null }, store, null, CancellationToken.None));
        Assert.Equal(victim, e.Expected);
        Assert.NotEqual(victim, e.Actual);
        Assert.Contains(e.Expected.Value, e.Message);
        Assert.Contains(e.Actual.Value, e.Message);
        Assert.Empty(SmallImage.StoredFiles(store));
    }

    [SkippableFact]
    public async Task A_tag_whose_manifest_was_swapped_on_disk_is_rejected()
    {
        var image = await SmallImage.ImportAsync(NewStore("source"), "tag-tamper");
        var backend = new RegistryBackend(new PeerOptions());
        await backend.PushAsync(image, Target("tagged"), null, CancellationToken.None);
        SmallImage.FlipByte(_registry.BlobDataPath(image.ManifestDigest.Value), await SizeDigitOffsetAsync(image));
        var store = NewStore("victim");
        // By tag the registry's Docker-Content-Digest is all there is to check against; the flipped byte breaks it.
        await Assert.ThrowsAsync<DigestMismatchException>(() => backend.PullAsync(Target("tagged"), store, null, CancellationToken.None));
        Assert.Empty(SmallImage.StoredFiles(store));
    }

    [SkippableFact]
    public async Task Resolver_answers_a_pinned_reference_from_the_store_without_the_registry()
    {
        var image = await SmallImage.ImportAsync(NewStore("source"), "cached");
        var resolver = new ContentResolver(NewStore("cache"));
        var pushed = await resolver.PushAsync(image, Target("cached"), null, CancellationToken.None);
        var first = await resolver.ResolveAsync(pushed.Reference, null, CancellationToken.None);
        await _registry.StopAsync();
        var second = await resolver.ResolveAsync(ContentReference.Parse(pushed.Reference.ToString()), null, CancellationToken.None);
        Assert.Equal(first.ManifestDigest, second.ManifestDigest);
        // A tag is not pinned: it needs the registry, which is gone.
        var e = await Assert.ThrowsAsync<StorageException>(() => resolver.ResolveAsync(Target("cached"), null, CancellationToken.None));
        Assert.Equal(StorageErrorCodes.PeerUnavailable, e.Code);
    }

    [SkippableFact]
    public async Task Missing_manifest_is_not_found()
    {
        var e = await Assert.ThrowsAsync<StorageException>(() => new RegistryBackend(new PeerOptions()).PullAsync(Target("nothing", "9"), NewStore("s"), null, CancellationToken.None));
        Assert.Equal(StorageErrorCodes.NotFound, e.Code);
    }

    // A digit of the config's size: flipping its low bit keeps the JSON valid, so the registry still serves it.
    private static async Task<long> SizeDigitOffsetAsync(ImageArchive image)
    {
        string manifest = System.Text.Encoding.UTF8.GetString(await image.ReadManifestAsync(CancellationToken.None));
        int i = manifest.IndexOf("\"size\":", StringComparison.Ordinal) + 7;
        while (char.IsAsciiDigit(manifest[i + 1])) i++;
        return i; // the last digit, so that no leading zero appears
    }

    private sealed class Reports : IProgress<TransferProgress>
    {
        public List<TransferProgress> Done { get; } = [];

        public void Report(TransferProgress value)
        {
            lock (Done)
            {
                if (value.Done) Done.Add(value);
            }
        }
    }

    /// <summary>
    /// A push cancelled mid-blob (Ctrl-C) abandons its upload on the registry (DELETE of the upload's location): neither its
    /// data nor its start time stays under the repository's _uploads, in one PUT or after some of its PATCH chunks. Without the DELETE,
    /// distribution keeps each cancelled upload's partial data until its purge, a week later by default.
    /// </summary>
    [SkippableTheory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_push_cancelled_mid_blob_leaves_no_upload_on_the_registry(bool chunked)
    {
        var image = await SmallImage.ImportAsync(NewStore("source"), "cancelled", layerSize: 600_000);
        var options = chunked ? new PeerOptions { ChunkedUploadThreshold = 1, ChunkSize = 64 << 10 } : new PeerOptions();
        using var cancel = new CancellationTokenSource();
        // Cancelled as a monolithic PUT begins sending its body, or after the first chunk of a chunked one.
        var progress = new Callback(r => { if (!r.Done) cancel.Cancel(); });
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => new RegistryBackend(options).PushAsync(image, Target("cancelled/" + (chunked ? "chunked" : "whole")), progress, cancel.Token));
        Assert.True(cancel.IsCancellationRequested);

        var uploads = Path.Combine(_registry.StorageDirectory, "docker", "registry", "v2", "repositories", "cancelled", chunked ? "chunked" : "whole", "_uploads");
        Assert.True(Directory.Exists(uploads), $"no upload was started: {uploads}");
        // distribution's DELETE removes an upload's data and startedat (the hash state of its last chunk, 108 bytes, stays).
        var left = Directory.EnumerateFiles(uploads, "*", SearchOption.AllDirectories)
            .Where(f => Path.GetFileName(f) is "data" or "startedat").Select(f => Path.GetRelativePath(uploads, f)).ToList();
        Assert.True(left.Count == 0, "left on the registry: " + string.Join(", ", left));
    }

    private sealed class Callback(Action<TransferProgress> report) : IProgress<TransferProgress>
    {
        public void Report(TransferProgress value) => report(value);
    }
}

/// <summary>A registry behind htpasswd basic auth: the challenge is answered with credentials, refused without.</summary>
public sealed class RegistryAuthTests : IAsyncLifetime, IDisposable
{
    private readonly TempDirectory _dir = new("im-regauth");
    private RegistryPeer _registry = null!;

    public async Task InitializeAsync() => _registry = await RegistryPeer.StartAsync("tester", "s3cret-pass");

    public async Task DisposeAsync()
    {
        if (_registry is not null) await _registry.DisposeAsync();
    }

    public void Dispose() => _dir.Dispose();

    [SkippableFact]
    public async Task Basic_auth_challenge_is_answered_with_credentials_and_refused_without()
    {
        var image = await SmallImage.ImportAsync(new LocalContentStore(_dir.Combine("s")), "auth");
        var target = ContentReference.ParseTarget($"oci://{_registry.HostPort}/secured:1");

        var none = await Assert.ThrowsAsync<StorageException>(() => new RegistryBackend(new PeerOptions()).PushAsync(image, target, null, CancellationToken.None));
        Assert.Equal(StorageErrorCodes.AuthenticationFailed, none.Code);
        Assert.Contains("INFRAMIND_REGISTRY_USERNAME", none.Hint);

        var wrong = await Assert.ThrowsAsync<StorageException>(() =>
            new RegistryBackend(new PeerOptions { Credentials = new RegistryCredentials("tester", "wrong", [_registry.HostPort]) }).PushAsync(image, target, null, CancellationToken.None));
        Assert.Equal(StorageErrorCodes.AuthenticationFailed, wrong.Code);

        var ok = new PeerOptions { Credentials = new RegistryCredentials("tester", "s3cret-pass", [_registry.HostPort]) };
        var pushed = await new RegistryBackend(ok).PushAsync(image, target, null, CancellationToken.None);
        var pulled = await new RegistryBackend(ok).PullAsync(pushed.Reference, new LocalContentStore(_dir.Combine("p")), null, CancellationToken.None);
        Assert.Equal(image.ManifestDigest, pulled.ManifestDigest);
    }
}

/// <summary>What needs no registry: one that does not answer.</summary>
public sealed class RegistryUnreachableTests : IDisposable
{
    private readonly TempDirectory _dir = new("im-regnone");

    public void Dispose() => _dir.Dispose();

    [Fact]
    public async Task Refused_connection_is_peer_unavailable()
    {
        using var closed = new ClosedPort();
        var reference = (OciReference)ContentReference.Parse($"oci://127.0.0.1:{closed.Port}/x:1");
        var e = await Assert.ThrowsAsync<StorageException>(() => new RegistryBackend(new PeerOptions()).PullAsync(reference, new LocalContentStore(_dir.Combine("s")), null, CancellationToken.None));
        Assert.Equal(StorageErrorCodes.PeerUnavailable, e.Code);
        Assert.Contains("connection refused", e.Message);
        Assert.Equal(FailureKind.Unavailable, e.Kind);
    }
}
