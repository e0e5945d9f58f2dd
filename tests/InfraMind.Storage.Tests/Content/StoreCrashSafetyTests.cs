using InfraMind.Oci;
using InfraMind.Storage.Registry;
using InfraMind.Testing;

namespace InfraMind.Storage.Tests.Content;

/// <summary>
/// The local store after crashes and damage (#13 §9): blobs are re-hashed before they are trusted, a damaged one is
/// replaced by the next pull (against the real docker-registry), staging areas of dead transfers are swept, and an
/// unreadable index is rebuilt from the blobs.
/// </summary>
public sealed class StoreCrashSafetyTests : IAsyncLifetime, IDisposable
{
    private readonly TempDirectory _dir = new("im-store-crash");
    private readonly SharedPeer<RegistryPeer> _registry = new(() => RegistryPeer.StartAsync(), r => r.DisposeAsync());

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync() => await _registry.DisposeAsync();

    public void Dispose() => _dir.Dispose();

    private async Task<(OciReference Reference, ImageArchive Image)> PushedAsync(string seed)
    {
        var image = await SmallImage.ImportAsync(new LocalContentStore(_dir.Combine("source-" + seed)), seed, layerSize: 200_000);
        var pushed = await new RegistryBackend(new PeerOptions()).PushAsync(image, ContentReference.ParseTarget($"oci://{(await _registry.GetAsync()).HostPort}/crash/{seed}"), null, CancellationToken.None);
        return ((OciReference)pushed.Reference with { Tag = null }, image);
    }

    [SkippableFact]
    public async Task A_zero_length_manifest_blob_does_not_block_a_re_pull_it_is_replaced()
    {
        var (reference, image) = await PushedAsync("zero");
        var store = new LocalContentStore(_dir.Combine("store"));
        var resolver = new ContentResolver(store);
        await resolver.ResolveAsync(reference, null, CancellationToken.None);
        await File.WriteAllBytesAsync(store.BlobPath(image.ManifestDigest), []);

        // The store no longer claims the image; the pull fetches the manifest again and the blob is whole.
        Assert.Null(await store.FindAsync(image.ManifestDigest, CancellationToken.None));
        var again = await resolver.ResolveAsync(reference, null, CancellationToken.None);
        Assert.Equal(image.ManifestDigest, again.ManifestDigest);
        Assert.Equal(Digest.Compute(await File.ReadAllBytesAsync(store.BlobPath(image.ManifestDigest))), image.ManifestDigest);
    }

    [SkippableFact]
    public async Task A_layer_damaged_on_disk_is_found_on_use_and_fetched_again()
    {
        var (reference, image) = await PushedAsync("flip");
        var store = new LocalContentStore(_dir.Combine("store"));
        var resolver = new ContentResolver(store);
        await resolver.ResolveAsync(reference, null, CancellationToken.None);
        var layer = store.BlobPath(image.LayerDigests[^1]);
        SmallImage.FlipByte(layer);
        File.SetLastWriteTimeUtc(layer, DateTime.UtcNow.AddSeconds(5)); // as any write does: the process's check is redone

        var again = await resolver.ResolveAsync(reference, null, CancellationToken.None);
        Assert.Equal(image.ManifestDigest, again.ManifestDigest);
        Assert.Equal(image.LayerDigests[^1], Digest.Compute(await File.ReadAllBytesAsync(layer)));
    }

    [Fact]
    public async Task Staging_areas_of_dead_transfers_are_swept_when_a_process_opens_the_store_live_ones_are_kept()
    {
        var root = _dir.Combine("swept");
        var staging = Path.Combine(root, "staging");
        var dead = Path.Combine(staging, "dead");
        var live = Path.Combine(staging, "live");
        var unowned = Path.Combine(staging, "old");
        foreach (var d in new[] { dead, live, unowned })
        {
            Directory.CreateDirectory(Path.Combine(d, "blobs", "sha256"));
            await File.WriteAllBytesAsync(Path.Combine(d, "blobs", "sha256", "partial"), new byte[1 << 20]);
        }

        await File.WriteAllTextAsync(Path.Combine(dead, ".owner"), "");
        Directory.SetLastWriteTimeUtc(unowned, DateTime.UtcNow.AddHours(-1));
        using (new FileStream(Path.Combine(live, ".owner"), FileMode.Create, FileAccess.ReadWrite, FileShare.None))
        {
            // The first store object of this root in this process sweeps (a new process does the same on its first use).
            _ = new LocalContentStore(root);
            Assert.False(Directory.Exists(dead));
            Assert.False(Directory.Exists(unowned));
            Assert.True(Directory.Exists(live));
        }
    }

    [Fact]
    public async Task An_empty_index_is_IM4211_with_the_repair_and_repair_rebuilds_it_from_the_blobs()
    {
        var store = new LocalContentStore(_dir.Combine("repair"));
        var a = await SmallImage.ImportAsync(store, "a", tag: "demo/a:1");
        var b = await SmallImage.ImportAsync(store, "b", tag: "demo/b:1");
        var index = Path.Combine(store.Root, "index.json");
        await File.WriteAllBytesAsync(index, []);
        var broken = await Assert.ThrowsAsync<StorageException>(() => store.FindAsync(a.ManifestDigest, CancellationToken.None));
        Assert.Equal(StorageErrorCodes.StoreIndexCorrupt, broken.Code);
        Assert.Contains("infra doctor --repair", broken.Hint, StringComparison.Ordinal);

        // One more damaged blob and a half-written one that no longer matches: removed; the rest listed again by digest.
        var layer = store.BlobPath(b.LayerDigests[^1]);
        SmallImage.FlipByte(layer);
        var repair = await store.RepairAsync(CancellationToken.None);
        Assert.True(repair.IndexRebuilt);
        Assert.True(File.Exists(repair.IndexBackup));
        Assert.Equal(1, repair.BlobsRemoved);
        Assert.Equal(1, repair.Images);
        Assert.Equal(a.ManifestDigest, (await store.FindAsync(a.ManifestDigest, CancellationToken.None))!.ManifestDigest);
        Assert.Null(await store.FindAsync(b.ManifestDigest, CancellationToken.None));
        Assert.Empty((await store.FindAsync(a.ManifestDigest, CancellationToken.None))!.Names); // names are not in blobs

        // A whole index is kept as it is (names included); entries of images no longer whole are dropped.
        var c = await SmallImage.ImportAsync(store, "c", tag: "demo/c:1");
        File.Delete(store.BlobPath(c.ConfigDigest));
        var second = await store.RepairAsync(CancellationToken.None);
        Assert.False(second.IndexRebuilt);
        Assert.Equal(1, second.EntriesDropped);
    }
}
