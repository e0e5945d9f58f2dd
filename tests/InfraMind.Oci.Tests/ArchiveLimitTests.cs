using System.Globalization;
using System.Text;
using InfraMind.Oci.Layout;
using InfraMind.Testing;

namespace InfraMind.Oci.Tests;

/// <summary>
/// Every bound of <see cref="ArchiveLimits"/> at its value (read) and one past it (IM4012), through both readers: the
/// layout extractor and the docker save importer of an OCI-only archive (HostileArchiveTests holds them far past).
/// </summary>
public sealed class ArchiveLimitTests : IDisposable
{
    private readonly TempDirectory _dir = new("im-oci-limits");

    public void Dispose() => _dir.Dispose();

    private static readonly byte[] Layer = TestArchives.Layer("limits");

    private static byte[] Pad(string json, int to) => Pad(Encoding.UTF8.GetBytes(json), to);

    private static byte[] Pad(byte[] json, int to)
    {
        if (to <= json.Length) return json;
        byte[] padded = new byte[to];
        json.CopyTo(padded, 0);
        padded.AsSpan(json.Length).Fill((byte)' ');
        return padded;
    }

    /// <summary>A ustar tar (one header block an entry, no PAX records: thousands of entries stay cheap).</summary>
    private static byte[] Tar(IEnumerable<(string Name, byte[]? Content)> entries)
    {
        var ms = new MemoryStream();
        using (var w = new System.Formats.Tar.TarWriter(ms, System.Formats.Tar.TarEntryFormat.Ustar, leaveOpen: true))
        {
            foreach (var (name, content) in entries)
            {
                w.WriteEntry(content is null
                    ? new System.Formats.Tar.UstarTarEntry(System.Formats.Tar.TarEntryType.Directory, name)
                    : new System.Formats.Tar.UstarTarEntry(System.Formats.Tar.TarEntryType.RegularFile, name) { DataStream = new MemoryStream(content) });
            }
        }

        return ms.ToArray();
    }

    /// <summary>
    /// A layout tar of <paramref name="images"/> distinct images of <paramref name="layers"/> listings of one plain
    /// layer, each manifest listed <paramref name="repeats"/> times in index.json; documents padded with trailing
    /// whitespace (valid JSON) to the given sizes; <paramref name="extraEntries"/> directory entries before them.
    /// </summary>
    private static byte[] Layout(int images = 1, int layers = 1, int repeats = 1, int manifestBytes = 0, int configBytes = 0, int indexBytes = 0, int extraEntries = 0)
    {
        var blobs = new List<byte[]> { Layer };
        var manifests = new List<byte[]>();
        string diffIds = string.Join(',', Enumerable.Repeat($"\"{Digest.Compute(Layer)}\"", layers));
        for (int i = 0; i < images; i++)
        {
            byte[] config = Pad($"{{\"created\":\"{i}\",\"rootfs\":{{\"type\":\"layers\",\"diff_ids\":[{diffIds}]}}}}", configBytes);
            var layer = new Descriptor(MediaTypes.OciLayerTar, Digest.Compute(Layer), Layer.Length);
            byte[] manifest = Pad(LayoutDocuments.BuildManifest(
                new Descriptor(MediaTypes.OciConfig, Digest.Compute(config), config.Length), [.. Enumerable.Repeat(layer, layers)]), manifestBytes);
            blobs.Add(config);
            manifests.Add(manifest);
        }

        byte[] index = Pad(LayoutDocuments.BuildIndex(
            manifests.SelectMany(m => Enumerable.Repeat(new Descriptor(MediaTypes.OciManifest, Digest.Compute(m), m.Length), repeats))), indexBytes);
        return Tar([
            .. Enumerable.Range(0, extraEntries).Select(i => ($"d{i}/", (byte[]?)null)),
            ("oci-layout", Encoding.UTF8.GetBytes(LayoutDocuments.LayoutFileContent)),
            ("index.json", index),
            .. blobs.Concat(manifests).Select(b => ("blobs/sha256/" + Digest.Compute(b).Hex, (byte[]?)b)),
        ]);
    }

    private Task<OciLayout> ReadAsync(byte[] tar, bool asDockerSave) => LayoutParts.ReadAsync(tar, asDockerSave, _dir.Path);

    private async Task RefusedAsync(byte[] tar, bool asDockerSave, string words)
    {
        var e = await Assert.ThrowsAsync<OciException>(() => ReadAsync(tar, asDockerSave));
        Assert.Equal("IM4012", e.Code);
        Assert.Contains(words, e.Message, StringComparison.Ordinal);
    }

    private static string N(long n) => n.ToString(CultureInfo.InvariantCulture);

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task An_index_lists_64_descriptors_and_not_65(bool asDockerSave)
    {
        Assert.Single((await ReadAsync(Layout(repeats: ArchiveLimits.MaxIndexEntries), asDockerSave)).Images);
        await RefusedAsync(Layout(repeats: ArchiveLimits.MaxIndexEntries + 1), asDockerSave, $"lists {N(ArchiveLimits.MaxIndexEntries + 1)} manifests; an index may list at most {N(ArchiveLimits.MaxIndexEntries)}");
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task An_archive_holds_16_images_and_not_17(bool asDockerSave)
    {
        Assert.Equal(ArchiveLimits.MaxImages, (await ReadAsync(Layout(images: ArchiveLimits.MaxImages), asDockerSave)).Images.Count);
        await RefusedAsync(Layout(images: ArchiveLimits.MaxImages + 1), asDockerSave, $"index.json/manifests/{N(ArchiveLimits.MaxImages)}: the ");
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task An_image_has_256_layers_and_not_257(bool asDockerSave)
    {
        Assert.Equal(ArchiveLimits.MaxLayers, Assert.Single((await ReadAsync(Layout(layers: ArchiveLimits.MaxLayers), asDockerSave)).Images).Layers.Count);
        await RefusedAsync(Layout(layers: ArchiveLimits.MaxLayers + 1), asDockerSave, $"lists {N(ArchiveLimits.MaxLayers + 1)} layers; an image may have at most {N(ArchiveLimits.MaxLayers)}");
    }

    [Fact]
    public async Task A_docker_save_manifest_json_image_has_256_layers_and_not_257()
    {
        var (l1, _, _) = TestArchives.Image();
        byte[] Archive(int layers)
        {
            byte[] config = Encoding.UTF8.GetBytes($"{{\"rootfs\":{{\"type\":\"layers\",\"diff_ids\":[{string.Join(',', Enumerable.Repeat($"\"{Digest.Compute(l1)}\"", layers))}]}}}}");
            return TestArchives.Tar(
                ("l.tar", l1, null),
                ("c.json", config, null),
                ("manifest.json", Encoding.UTF8.GetBytes($"[{{\"Config\":\"c.json\",\"Layers\":[{string.Join(',', Enumerable.Repeat("\"l.tar\"", layers))}]}}]"), null));
        }

        Assert.Equal(ArchiveLimits.MaxLayers, Assert.Single((await ReadAsync(Archive(ArchiveLimits.MaxLayers), asDockerSave: true)).Images).Layers.Count);
        await RefusedAsync(Archive(ArchiveLimits.MaxLayers + 1), asDockerSave: true, $"manifest.json/0 lists {N(ArchiveLimits.MaxLayers + 1)} layers");
    }

    [Fact]
    public async Task A_docker_save_manifest_json_lists_16_images_and_not_17()
    {
        byte[] config = Encoding.UTF8.GetBytes($"{{\"rootfs\":{{\"type\":\"layers\",\"diff_ids\":[\"{Digest.Compute(Layer)}\"]}}}}");
        byte[] Archive(int images) => TestArchives.Tar(
            ("l.tar", Layer, null),
            ("c.json", config, null),
            ("manifest.json", Encoding.UTF8.GetBytes("[" + string.Join(',', Enumerable.Range(0, images).Select(i => $"{{\"Config\":\"c.json\",\"RepoTags\":[\"m:{i}\"],\"Layers\":[\"l.tar\"]}}")) + "]"), null));

        // Sixteen listings of one image (its config and layers) are one image, under its first name.
        var layout = await ReadAsync(Archive(ArchiveLimits.MaxImages), asDockerSave: true);
        Assert.Equal(["m:0"], Assert.Single(layout.Images).RepoTags);
        await RefusedAsync(Archive(ArchiveLimits.MaxImages + 1), asDockerSave: true, $"manifest.json lists {N(ArchiveLimits.MaxImages + 1)} images; an archive may hold at most {N(ArchiveLimits.MaxImages)}");
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_manifest_has_4MiB_and_not_a_byte_more(bool asDockerSave)
    {
        int max = (int)ArchiveLimits.MaxManifestBytes;
        Assert.Single((await ReadAsync(Layout(manifestBytes: max), asDockerSave)).Images);
        await RefusedAsync(Layout(manifestBytes: max + 1), asDockerSave, $"names a {N(max + 1)}-byte document; a manifest or index may have at most {N(max)} bytes");
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Index_json_has_4MiB_and_not_a_byte_more(bool asDockerSave)
    {
        int max = (int)ArchiveLimits.MaxManifestBytes;
        Assert.Single((await ReadAsync(Layout(indexBytes: max), asDockerSave)).Images);
        await RefusedAsync(Layout(indexBytes: max + 1), asDockerSave, asDockerSave
            ? $"index.json is {N(max + 1)} bytes; a JSON document of an image may have at most {N(max)} bytes"
            : $"index.json in the layout tar is {N(max + 1)} bytes");
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task An_image_config_has_16MiB_and_not_a_byte_more(bool asDockerSave)
    {
        int max = (int)ArchiveLimits.MaxConfigBytes;
        Assert.Single((await ReadAsync(Layout(configBytes: max), asDockerSave)).Images);
        await RefusedAsync(Layout(configBytes: max + 1), asDockerSave, asDockerSave
            ? $"image config is {N(max + 1)} bytes; a JSON document of an image may have at most {N(max)} bytes"
            : $"names a {N(max + 1)}-byte config; an image config may have at most {N(max)} bytes");
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task An_archive_holds_8192_entries_and_not_8193(bool asDockerSave)
    {
        // oci-layout, index.json, the layer, the config and the manifest: five entries besides the directories.
        Assert.Single((await ReadAsync(Layout(extraEntries: ArchiveLimits.MaxTarEntries - 5), asDockerSave)).Images);
        await RefusedAsync(Layout(extraEntries: ArchiveLimits.MaxTarEntries - 4), asDockerSave, $"holds more than {N(ArchiveLimits.MaxTarEntries)} entries");
    }

    [Fact]
    public void A_compressed_layer_may_give_256MiB_or_100_times_its_size_whichever_is_more_and_never_overflows()
    {
        const long min = ArchiveLimits.MinDecompressedLayerAllowance;
        Assert.Equal(256L << 20, min);
        Assert.Equal(100, ArchiveLimits.MaxLayerExpansion);
        Assert.Equal(min, ArchiveLimits.MaxDecompressedLayerBytes(0));
        Assert.Equal(min, ArchiveLimits.MaxDecompressedLayerBytes(min / 100));
        Assert.Equal((min / 100 + 1) * 100, ArchiveLimits.MaxDecompressedLayerBytes(min / 100 + 1));
        Assert.Equal(long.MaxValue / 100 * 100, ArchiveLimits.MaxDecompressedLayerBytes(long.MaxValue / 100));
        Assert.Equal(long.MaxValue, ArchiveLimits.MaxDecompressedLayerBytes(long.MaxValue / 100 + 1));
        Assert.Equal(long.MaxValue, ArchiveLimits.MaxDecompressedLayerBytes(long.MaxValue));
    }

    [Fact]
    public void Every_bound_has_its_documented_value()
    {
        Assert.Equal(64, ArchiveLimits.MaxIndexEntries);
        Assert.Equal(16, ArchiveLimits.MaxImages);
        Assert.Equal(4, ArchiveLimits.MaxIndexDepth);
        Assert.Equal(256, ArchiveLimits.MaxLayers);
        Assert.Equal(4L << 20, ArchiveLimits.MaxManifestBytes);
        Assert.Equal(16L << 20, ArchiveLimits.MaxConfigBytes);
        Assert.Equal(8192, ArchiveLimits.MaxTarEntries);
    }
}
