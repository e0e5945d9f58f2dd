using InfraMind.Oci;
using InfraMind.Testing;

namespace InfraMind.Storage.Tests.Content;

public sealed class LocalContentStoreTests : IDisposable
{
    private readonly TempDirectory _dir = new("im-store");

    public void Dispose() => _dir.Dispose();

    [Fact]
    public async Task Forgetting_a_nameless_copy_removes_it_and_only_the_blobs_no_other_image_uses()
    {
        var store = new LocalContentStore(_dir.Combine("forget"));
        // Fetched copies are nameless; two of them share their first layer, and an operator's push carries a name.
        var copy = await SmallImage.ImportAsync(store, "copy", tag: "", firstLayer: "base");
        var other = await SmallImage.ImportAsync(store, "other", tag: "", firstLayer: "base");
        var named = await SmallImage.ImportAsync(store, "named", tag: "mine/model:1.0");
        var shared = Assert.Single(copy.LayerDigests.Intersect(other.LayerDigests));
        var own = copy.Blobs.Select(b => b.Digest).Append(copy.ManifestDigest).Where(d => d != shared).ToList();
        var expected = own.Sum(d => new FileInfo(store.BlobPath(d)).Length);

        var forgotten = await store.ForgetAsync(copy.ManifestDigest, CancellationToken.None);
        Assert.Equal(expected, forgotten.Bytes);
        Assert.Equal(own.Select(d => d.Value).Order(), forgotten.Blobs.Select(d => d.Value).Order());
        Assert.Null(await store.FindAsync(copy.ManifestDigest, CancellationToken.None));
        Assert.All(own, d => Assert.False(File.Exists(store.BlobPath(d)), $"{d} of the forgotten image is still here"));
        Assert.True(File.Exists(store.BlobPath(shared)), "a layer another image uses was removed");
        Assert.NotNull(await store.FindAsync(other.ManifestDigest, CancellationToken.None));

        // A named image is its operator's, not a copy; an unknown digest is nothing to do.
        Assert.Same(StoreForget.Nothing, await store.ForgetAsync(named.ManifestDigest, CancellationToken.None));
        Assert.NotNull(await store.FindAsync(named.ManifestDigest, CancellationToken.None));
        Assert.Same(StoreForget.Nothing, await store.ForgetAsync(copy.ManifestDigest, CancellationToken.None));
        // What is left is still a valid OCI image layout.
        Assert.Equal(2, (await OciImageLayout.OpenAsync(store.Root, CancellationToken.None)).Images.Count);

        // An entry whose blobs cannot be told (its manifest gone): nothing is removed on a guess.
        File.Delete(store.BlobPath(named.ManifestDigest));
        Assert.Same(StoreForget.Nothing, await store.ForgetAsync(other.ManifestDigest, CancellationToken.None));
        Assert.NotNull(await store.FindAsync(other.ManifestDigest, CancellationToken.None));
    }

    [Fact]
    public async Task Imported_image_is_found_by_digest_and_name_and_is_a_valid_layout()
    {
        var store = new LocalContentStore(_dir.Combine("store"));
        var image = await SmallImage.ImportAsync(store, "a");
        Assert.Equal(2, image.LayerDigests.Count);
        Assert.Equal(["demo/model:1.0"], image.Names);
        var byDigest = await store.GetAsync(new LocalReference(image.ManifestDigest, null), CancellationToken.None);
        var byName = await store.GetAsync(new LocalReference(null, "demo/model:1.0"), CancellationToken.None);
        Assert.Equal(image.ManifestDigest, byDigest.ManifestDigest);
        Assert.Equal(image.ConfigDigest, byName.ConfigDigest);

        // The store is an OCI image layout: the independent reader in InfraMind.Oci verifies it end to end.
        var layout = await OciImageLayout.OpenAsync(store.Root, CancellationToken.None);
        Assert.Equal(image.ManifestDigest, Assert.Single(layout.Images).ManifestDigest);
        Assert.Empty(Directory.GetFileSystemEntries(Path.Combine(store.Root, "staging")));
    }

    [Fact]
    public async Task Same_image_gives_same_digest_and_same_tar_bytes()
    {
        var one = new LocalContentStore(_dir.Combine("one"));
        var two = new LocalContentStore(_dir.Combine("two"));
        var a = await SmallImage.ImportAsync(one, "same");
        var b = await SmallImage.ImportAsync(two, "same");
        Assert.Equal(a.ManifestDigest, b.ManifestDigest);
        var ta = new MemoryStream();
        var tb = new MemoryStream();
        await a.WriteTarAsync(ta, CancellationToken.None);
        await b.WriteTarAsync(tb, CancellationToken.None);
        Assert.Equal(ta.ToArray(), tb.ToArray());

        // And the tar goes back into a third store as the same image.
        var three = new LocalContentStore(_dir.Combine("three"));
        ta.Position = 0;
        var c = await three.ImportLayoutTarAsync(ta, CancellationToken.None);
        Assert.Equal(a.ManifestDigest, c.ManifestDigest);
        Assert.Empty(c.Names); // names inside the tar are not taken (#13 §3)
    }

    [Fact]
    public async Task A_tampered_layout_tar_is_rejected_and_leaves_nothing_behind()
    {
        var source = new LocalContentStore(_dir.Combine("source"));
        var image = await SmallImage.ImportAsync(source, "t", layerSize: 100_000);
        var tar = new MemoryStream();
        await image.WriteTarAsync(tar, CancellationToken.None);
        byte[] bytes = tar.ToArray();
        // The big layer's bytes sit in the middle of the tar: flip one of them.
        bytes[bytes.Length / 2] ^= 0x01;

        var target = new LocalContentStore(_dir.Combine("target"));
        var e = await Assert.ThrowsAsync<DigestMismatchException>(() => target.ImportLayoutTarAsync(new MemoryStream(bytes), CancellationToken.None));
        Assert.Contains(e.Expected.Value, e.Message);
        Assert.Contains(e.Actual.Value, e.Message);
        Assert.Empty(SmallImage.StoredFiles(target));
        Assert.Null(await target.FindAsync(image.ManifestDigest, CancellationToken.None));
    }

    [Fact]
    public async Task A_name_moves_to_the_newer_image_and_both_stay_by_digest()
    {
        var store = new LocalContentStore(_dir.Combine("store"));
        var first = await SmallImage.ImportAsync(store, "v1");
        var second = await SmallImage.ImportAsync(store, "v2");
        Assert.NotEqual(first.ManifestDigest, second.ManifestDigest);
        Assert.Equal(second.ManifestDigest, (await store.FindAsync("demo/model:1.0", CancellationToken.None))!.ManifestDigest);
        Assert.NotNull(await store.FindAsync(first.ManifestDigest, CancellationToken.None));
        Assert.Equal(2, (await store.ListAsync(CancellationToken.None)).Count);
    }

    [Fact]
    public async Task Missing_image_is_a_coded_error_that_says_how_to_get_it()
    {
        var store = new LocalContentStore(_dir.Combine("store"));
        var e = await Assert.ThrowsAsync<StorageException>(() => store.GetAsync(new LocalReference(Digest.Compute([1]), null), CancellationToken.None));
        Assert.Equal(StorageErrorCodes.NotInStore, e.Code);
        Assert.Contains("infra pull", e.Hint, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Concurrent_imports_of_different_images_keep_every_index_entry()
    {
        var store = new LocalContentStore(_dir.Combine("store"));
        await Task.WhenAll(Enumerable.Range(0, 6).Select(i => Task.Run(() => SmallImage.ImportAsync(store, "c" + i, tag: $"demo/c:{i}"))));
        Assert.Equal(6, (await store.ListAsync(CancellationToken.None)).Count);
    }
}
