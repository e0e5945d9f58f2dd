using System.Text;
using InfraMind.Oci.Layout;
using InfraMind.Testing;

namespace InfraMind.Oci.Tests;

/// <summary>What <see cref="LayoutVerifier"/> asks of a layout directory, rule by rule, and what it costs its reader.</summary>
public sealed class LayoutVerifierTests : IDisposable
{
    private readonly TempDirectory _dir = new("im-oci-verifier");

    public void Dispose() => _dir.Dispose();

    /// <summary>Writes a layout of one manifest per entry of <paramref name="manifests"/> and opens it.</summary>
    private async Task<OciLayout> OpenAsync(IEnumerable<byte[]> blobs, IEnumerable<byte[]> manifests, CancellationToken cancellationToken = default)
    {
        string dir = _dir.Combine(Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Path.Combine(dir, "blobs", "sha256"));
        var list = manifests.ToList();
        foreach (byte[] blob in blobs.Concat(list))
        {
            await File.WriteAllBytesAsync(Path.Combine(dir, "blobs", "sha256", Digest.Compute(blob).Hex), blob, cancellationToken);
        }

        await File.WriteAllBytesAsync(Path.Combine(dir, "index.json"),
            LayoutDocuments.BuildIndex(list.Select(m => new Descriptor(MediaTypes.OciManifest, Digest.Compute(m), m.Length))), cancellationToken);
        await File.WriteAllTextAsync(Path.Combine(dir, "oci-layout"), LayoutDocuments.LayoutFileContent, cancellationToken);
        return await OciImageLayout.OpenAsync(dir, cancellationToken);
    }

    /// <summary>
    /// One gzip blob of a few kilobytes that inflates to 64 MiB, listed as every one of 256 layers of each of 16
    /// images (distinct manifests: their configs differ): on the reader that decompressed every listing, 4,096 times
    /// 64 MiB (256 GiB, many minutes of CPU from an archive of a few hundred kilobytes); decompressed once, a fraction
    /// of a second.
    /// </summary>
    [Fact]
    public async Task A_compressed_layer_listed_in_every_place_of_every_image_is_decompressed_once()
    {
        var member = LayerCompression.GzipMember(new byte[8 << 20], System.Buffers.ArrayPool<byte>.Shared);
        byte[] gzip = [.. Enumerable.Repeat(member.Bytes.ToArray(), 8).SelectMany(b => b)];
        member.Return();
        var diffId = Digest.Compute(new byte[64 << 20]);
        var layer = new Descriptor(MediaTypes.OciLayerTarGzip, Digest.Compute(gzip), gzip.Length);
        var blobs = new List<byte[]> { gzip };
        var manifests = new List<byte[]>();
        for (int image = 0; image < ArchiveLimits.MaxImages; image++)
        {
            byte[] config = Encoding.UTF8.GetBytes(
                $"{{\"created\":\"{image}\",\"rootfs\":{{\"type\":\"layers\",\"diff_ids\":[{string.Join(',', Enumerable.Repeat($"\"{diffId}\"", ArchiveLimits.MaxLayers))}]}}}}");
            blobs.Add(config);
            manifests.Add(LayoutDocuments.BuildManifest(new Descriptor(MediaTypes.OciConfig, Digest.Compute(config), config.Length), [.. Enumerable.Repeat(layer, ArchiveLimits.MaxLayers)]));
        }

        using var patience = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        var layout = await OpenAsync(blobs, manifests, patience.Token);
        Assert.Equal(ArchiveLimits.MaxImages, layout.Images.Count);
        Assert.All(layout.Images, i => Assert.Equal(ArchiveLimits.MaxLayers, i.Layers.Count));
    }

    private Task<OciLayout> ExtractAsync(LayoutParts parts, params byte[][] extraBlobs) => LayoutParts.ReadAsync(parts.Tar(extraBlobs), asDockerSave: false, _dir.Path);

    private async Task<OciException> RefusedAsync(LayoutParts parts, string code, string words, params byte[][] extraBlobs)
    {
        var e = await Assert.ThrowsAnyAsync<OciException>(() => ExtractAsync(parts, extraBlobs));
        Assert.Equal(code, e.Code);
        Assert.Contains(words, e.Message, StringComparison.Ordinal);
        return e;
    }

    private static string Manifest(string config, params string[] layers) =>
        $"{{\"schemaVersion\":2,\"config\":{config},\"layers\":[{string.Join(',', layers)}]}}";

    private static readonly string ConfigDescriptor = LayoutParts.Descriptor(MediaTypes.OciConfig, new LayoutParts().ConfigBytes);

    private static readonly string LayerDescriptor = LayoutParts.Descriptor(MediaTypes.OciLayerTar, LayoutParts.LayerBytes);

    [Fact]
    public async Task A_layout_needs_oci_layout_of_version_1_0_0_and_index_json()
    {
        string dir = _dir.Combine("empty");
        Directory.CreateDirectory(dir);
        var none = await Assert.ThrowsAsync<OciException>(() => OciImageLayout.OpenAsync(dir, CancellationToken.None));
        Assert.Equal("IM4011", none.Code);
        Assert.Contains("has no oci-layout file", none.Message, StringComparison.Ordinal);

        await File.WriteAllTextAsync(Path.Combine(dir, "oci-layout"), LayoutDocuments.LayoutFileContent);
        var noIndex = await Assert.ThrowsAsync<OciException>(() => OciImageLayout.OpenAsync(dir, CancellationToken.None));
        Assert.Equal("IM4011", noIndex.Code);
        Assert.Contains("has no index.json", noIndex.Message, StringComparison.Ordinal);

        await RefusedAsync(new LayoutParts { OciLayout = "{\"imageLayoutVersion\":\"1.0.1\"}" }, "IM4011", "oci-layout must say");
        await RefusedAsync(new LayoutParts { OciLayout = "{}" }, "IM4011", "oci-layout must say");
    }

    [Fact]
    public async Task An_index_without_a_manifests_array_or_without_an_image_manifest_is_refused()
    {
        await RefusedAsync(new LayoutParts { Index = "{}" }, "IM4011", "index.json/manifests is missing or not an array.");
        await RefusedAsync(new LayoutParts { Index = "{\"manifests\":{}}" }, "IM4011", "index.json/manifests is missing or not an array.");
        await RefusedAsync(new LayoutParts { Index = "{\"manifests\":[]}" }, "IM4011", "index.json of the layout lists no image manifest.");

        // An entry of another media type (an attestation, a signature) is passed over, not read.
        var parts = new LayoutParts();
        string other = $"{{\"mediaType\":\"application/vnd.in-toto+json\",\"digest\":\"{Digest.Compute([9])}\",\"size\":1}}";
        await RefusedAsync(parts with { Index = $"{{\"manifests\":[{other}]}}" }, "IM4011", "lists no image manifest");
        var layout = await ExtractAsync(parts with { Index = $"{{\"manifests\":[{other},{LayoutParts.Descriptor(MediaTypes.OciManifest, parts.ManifestBytes)}]}}" });
        Assert.Equal(Digest.Compute(parts.ManifestBytes), Assert.Single(layout.Images).ManifestDigest);
    }

    [Theory]
    [InlineData(MediaTypes.OciManifest)]
    [InlineData(MediaTypes.DockerManifest)]
    public async Task Both_manifest_media_types_are_images_and_both_index_types_are_followed(string mediaType)
    {
        var parts = new LayoutParts { ManifestMediaType = mediaType };
        Assert.Equal(mediaType, Assert.Single((await ExtractAsync(parts)).Images).Manifest.MediaType);

        foreach (string indexType in new[] { MediaTypes.OciIndex, MediaTypes.DockerManifestList })
        {
            byte[] nested = Encoding.UTF8.GetBytes($"{{\"manifests\":[{LayoutParts.Descriptor(mediaType, parts.ManifestBytes)}]}}");
            var layout = await ExtractAsync(parts with { Index = $"{{\"manifests\":[{LayoutParts.Descriptor(indexType, nested)}]}}" }, nested);
            Assert.Equal(Digest.Compute(parts.ManifestBytes), Assert.Single(layout.Images).ManifestDigest);
        }
    }

    [Fact]
    public async Task A_manifest_whose_config_is_not_an_image_config_or_whose_layer_is_not_a_layer_is_refused()
    {
        var parts = new LayoutParts();
        string dockerConfig = LayoutParts.Descriptor(MediaTypes.DockerConfig, parts.ConfigBytes);
        Assert.Single((await ExtractAsync(parts with { Manifest = Manifest(dockerConfig, LayerDescriptor) })).Images);

        string notConfig = LayoutParts.Descriptor("application/vnd.oci.image.manifest.v1+json", parts.ConfigBytes);
        await RefusedAsync(parts with { Manifest = Manifest(notConfig, LayerDescriptor) }, "IM4011", "/config has media type 'application/vnd.oci.image.manifest.v1+json', which is not an image config");
        await RefusedAsync(parts with { Manifest = "{\"layers\":[]}" }, "IM4011", "/config is not a JSON object");

        string notLayer = LayoutParts.Descriptor("application/octet-stream", LayoutParts.LayerBytes);
        await RefusedAsync(parts with { Manifest = Manifest(ConfigDescriptor, notLayer) }, "IM4011", "/layers/0 has media type 'application/octet-stream', which is not a layer InfraMind can run.");
    }

    [Fact]
    public async Task A_manifest_without_layers_is_an_image_of_none_when_its_config_lists_none()
    {
        var parts = new LayoutParts { Config = "{\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[]}}" };
        string config = LayoutParts.Descriptor(MediaTypes.OciConfig, parts.ConfigBytes);
        Assert.Empty(Assert.Single((await ExtractAsync(parts with { Manifest = $"{{\"config\":{config}}}" })).Images).Layers);
        Assert.Empty(Assert.Single((await ExtractAsync(parts with { Manifest = $"{{\"config\":{config},\"layers\":{{}}}}" })).Images).Layers);
        await RefusedAsync(new LayoutParts { Manifest = $"{{\"config\":{ConfigDescriptor}}}" }, "IM4011", "lists 0 layers but its config lists 1 diff_ids");
        await RefusedAsync(new LayoutParts { Manifest = Manifest(ConfigDescriptor, LayerDescriptor, LayerDescriptor) }, "IM4011", "lists 2 layers but its config lists 1 diff_ids");
    }

    [Fact]
    public async Task A_blob_missing_or_of_another_size_than_its_descriptor_is_refused()
    {
        var parts = new LayoutParts();
        string absent = $"{{\"mediaType\":\"{MediaTypes.OciLayerTar}\",\"digest\":\"{Digest.Compute([7])}\",\"size\":1}}";
        await RefusedAsync(parts with { Manifest = Manifest(ConfigDescriptor, absent) }, "IM4011", $"/layers/0 names blob {Digest.Compute([7])}, which the layout does not contain");

        string longer = $"{{\"mediaType\":\"{MediaTypes.OciLayerTar}\",\"digest\":\"{Digest.Compute(LayoutParts.LayerBytes)}\",\"size\":{LayoutParts.LayerBytes.Length + 1}}}";
        var e = await RefusedAsync(parts with { Manifest = Manifest(ConfigDescriptor, longer) }, "IM4003",
            $"says blob {Digest.Compute(LayoutParts.LayerBytes)} has {LayoutParts.LayerBytes.Length + 1} bytes but it has {LayoutParts.LayerBytes.Length}");
        Assert.Contains("/layers/0", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_plain_layer_must_be_its_own_diff_id()
    {
        var e = await RefusedAsync(new LayoutParts { Config = $"{{\"rootfs\":{{\"diff_ids\":[\"{Digest.Compute([1])}\"]}}}}" }, "IM4013",
            $"hashes to {Digest.Compute(LayoutParts.LayerBytes)} but the image config says its diff_id is {Digest.Compute([1])}");
        Assert.Contains("/layers/0 (", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_blob_already_in_the_directory_is_hashed_before_it_is_used()
    {
        // A blob the tar did not bring (the directory held it already) is hashed by the verifier.
        var parts = new LayoutParts();
        byte[] tar = TestArchives.Tar([.. TestArchives.ReadTar(parts.Tar())
            .Where(e => e.Entry.Name != "blobs/sha256/" + Digest.Compute(parts.ConfigBytes).Hex)
            .Select(e => (e.Entry.Name, (byte[]?)e.Content, (string?)null))]);
        string dir = _dir.Combine("held");
        string blob = Path.Combine(dir, "blobs", "sha256", Digest.Compute(parts.ConfigBytes).Hex);
        Directory.CreateDirectory(Path.GetDirectoryName(blob)!);
        byte[] forged = (byte[])parts.ConfigBytes.Clone();
        forged[^2] ^= 1;
        await File.WriteAllBytesAsync(blob, forged);
        var e = await Assert.ThrowsAsync<DigestMismatchException>(() => OciImageLayout.ExtractAsync(new MemoryStream(tar), dir, CancellationToken.None));
        Assert.Equal(Digest.Compute(parts.ConfigBytes), e.Expected);
        Assert.Equal(Digest.Compute(forged), e.Actual);
        Assert.Contains("blob named by manifest ", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("blobs/sha256/abc")]
    [InlineData("blobs/sha256/E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855")]
    [InlineData("blobs/sha256/x/e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")]
    [InlineData("blobs/sha256/e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855/x")]
    public async Task A_layout_tar_blob_not_named_by_a_digest_is_refused(string name)
    {
        var tar = TestArchives.Tar([.. TestArchives.ReadTar(new LayoutParts().Tar()).Select(e => (e.Entry.Name, (byte[]?)e.Content, (string?)null)), (name, [1, 2], null)]);
        var e = await Assert.ThrowsAsync<OciException>(() => LayoutParts.ReadAsync(tar, asDockerSave: false, _dir.Path));
        Assert.Equal("IM4011", e.Code);
        Assert.Contains("which is not named by a sha256 digest", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Links_and_other_files_of_a_layout_tar_are_passed_over()
    {
        var tar = TestArchives.Tar([
            ("index.json.link", null, "/etc/passwd"),
            ("notes.txt", [1], null),
            .. TestArchives.ReadTar(new LayoutParts().Tar()).Select(e => (e.Entry.Name, (byte[]?)e.Content, (string?)null))]);
        string dir = _dir.Combine("passed-over");
        Assert.Single((await OciImageLayout.ExtractAsync(new MemoryStream(tar), dir, CancellationToken.None)).Images);
        Assert.False(File.Exists(Path.Combine(dir, "notes.txt")));
        Assert.False(File.Exists(Path.Combine(dir, "index.json.link")));
    }

    [Fact]
    public async Task An_image_is_named_by_its_full_name_else_by_its_tag()
    {
        var parts = new LayoutParts();
        string Named(string annotations) =>
            $"{{\"manifests\":[{LayoutParts.Descriptor(MediaTypes.OciManifest, parts.ManifestBytes)[..^1]},\"annotations\":{{{annotations}}}}}]}}";
        Assert.Equal(["demo/model:1.0"], Assert.Single((await ExtractAsync(parts with
        {
            Index = Named($"\"{OciImageLayout.RefNameAnnotation}\":\"1.0\",\"{OciImageLayout.ContainerdImageNameAnnotation}\":\"demo/model:1.0\""),
        })).Images).RepoTags);
        Assert.Equal(["1.0"], Assert.Single((await ExtractAsync(parts with { Index = Named($"\"{OciImageLayout.RefNameAnnotation}\":\"1.0\"") })).Images).RepoTags);
        Assert.Empty(Assert.Single((await ExtractAsync(parts with { Index = Named("\"other\":\"x\"") })).Images).RepoTags);
    }

    /// <summary>
    /// A zero-byte blob (here a layer) is content like any other: a tar entry of no bytes has no data stream, and
    /// both readers passed such an entry over, so a layout holding one was refused as incomplete.
    /// </summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_zero_byte_blob_is_read_as_empty_content_not_passed_over(bool asDockerSave)
    {
        var parts = new LayoutParts { Layer = [], Config = $"{{\"rootfs\":{{\"type\":\"layers\",\"diff_ids\":[\"{Digest.Compute([])}\"]}}}}" };
        var layout = await LayoutParts.ReadAsync(parts.Tar(), asDockerSave, _dir.Path);
        var layer = Assert.Single(Assert.Single(layout.Images).Layers);
        Assert.Equal(asDockerSave ? MediaTypes.OciLayerTarGzip : MediaTypes.OciLayerTar, layer.MediaType);
        Assert.True(File.Exists(layout.BlobPath(layer.Digest)));

        // An empty index.json is read (and refused) as what it is, not as a missing file.
        var e = await Assert.ThrowsAsync<OciException>(() => LayoutParts.ReadAsync(new LayoutParts { Index = "" }.Tar(), asDockerSave: false, _dir.Path));
        Assert.Equal("IM4011", e.Code);
        Assert.Contains("index.json is not valid JSON", e.Message, StringComparison.Ordinal);
    }
}
