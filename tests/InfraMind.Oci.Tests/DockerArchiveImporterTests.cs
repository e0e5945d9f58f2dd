using System.IO.Compression;
using System.Text;
using System.Text.Json;
using InfraMind.Testing;

namespace InfraMind.Oci.Tests;

/// <summary>What the docker save importer makes of each way an archive may hold an image's parts.</summary>
public sealed class DockerArchiveImporterTests : IDisposable
{
    private readonly TempDirectory _dir = new("im-oci-importer");

    public void Dispose() => _dir.Dispose();

    private static readonly byte[] Tar = TestArchives.Layer("importer");

    /// <summary>A legacy archive of one image whose one layer, l.tar, holds <paramref name="layer"/>, and whose config lists <paramref name="diffIds"/>.</summary>
    private static byte[] Archive(byte[] layer, string? diffIds = null, string tags = "[\"demo/m:1\"]", string layers = "[\"l.tar\"]", byte[]? config = null) => TestArchives.Tar(
        ("l.tar", layer, null),
        ("c.json", config ?? Encoding.UTF8.GetBytes($"{{\"rootfs\":{{\"type\":\"layers\",\"diff_ids\":{diffIds ?? $"[\"{Digest.Compute(Tar)}\"]"}}}}}"), null),
        ("manifest.json", Encoding.UTF8.GetBytes($"[{{\"Config\":\"c.json\",\"RepoTags\":{tags},\"Layers\":{layers}}}]"), null));

    private Task<OciLayout> ImportAsync(byte[] archive) =>
        OciImageLayout.ImportDockerArchiveAsync(new MemoryStream(archive), _dir.Combine(Guid.NewGuid().ToString("N")), CancellationToken.None);

    private static byte[] Gzip(byte[] content)
    {
        var ms = new MemoryStream();
        using (var z = new GZipStream(ms, CompressionLevel.Fastest, leaveOpen: true))
        {
            z.Write(content);
        }

        return ms.ToArray();
    }

    [Fact]
    public async Task A_layer_held_plain_gzip_or_zstd_becomes_the_same_gzip_blob_and_manifest()
    {
        var plain = Assert.Single((await ImportAsync(Archive(Tar))).Images);
        using var zstd = new ZstdSharp.Compressor(3);
        foreach (byte[] held in new[] { Gzip(Tar), zstd.Wrap(Tar).ToArray() })
        {
            var image = Assert.Single((await ImportAsync(Archive(held))).Images);
            Assert.Equal(plain.ManifestDigest, image.ManifestDigest);
            Assert.Equal(MediaTypes.OciLayerTarGzip, Assert.Single(image.Layers).MediaType);
        }
    }

    [Fact]
    public async Task A_compressed_layer_of_another_tar_is_refused_naming_how_the_archive_held_it()
    {
        string other = $"[\"{Digest.Compute([1])}\"]";
        var gzip = await Assert.ThrowsAsync<OciException>(() => ImportAsync(Archive(Gzip(Tar), other)));
        Assert.Equal("IM4013", gzip.Code);
        Assert.Contains($"manifest.json/0: layer 0 ('l.tar') ({Digest.Compute(Gzip(Tar))}, {MediaTypes.OciLayerTarGzip}) decompresses to {Digest.Compute(Tar)}", gzip.Message, StringComparison.Ordinal);

        var plain = await Assert.ThrowsAsync<OciException>(() => ImportAsync(Archive(Tar, other)));
        Assert.Equal("IM4013", plain.Code);
        Assert.Contains($"({Digest.Compute(Tar)}, {MediaTypes.OciLayerTar}) hashes to {Digest.Compute(Tar)}", plain.Message, StringComparison.Ordinal);
    }

    /// <summary>
    /// Content that is not a tar (shorter than a tar header, no ustar magic) is kept as the archive holds it and
    /// read by its first bytes: gzip's two magic bytes make it gzip, zstd's four make it zstd, anything else plain.
    /// </summary>
    [Theory]
    [InlineData(new byte[] { 0x1f, 0x8b }, "IM4013")]
    [InlineData(new byte[] { 0x1f }, null)]
    [InlineData(new byte[] { 0x1f, 0x8c }, null)]
    [InlineData(new byte[] { 0x1e, 0x8b }, null)]
    [InlineData(new byte[] { 0x28, 0xb5, 0x2f, 0xfd }, "IM4013")]
    [InlineData(new byte[] { 0x28, 0xb5, 0x2f }, null)]
    [InlineData(new byte[] { 0x28, 0xb5, 0x2f, 0xfe }, null)]
    [InlineData(new byte[] { 0x28, 0xb5, 0x2e, 0xfd }, null)]
    [InlineData(new byte[] { 0x28, 0xb4, 0x2f, 0xfd }, null)]
    [InlineData(new byte[] { 0x27, 0xb5, 0x2f, 0xfd }, null)]
    public async Task A_layer_that_is_not_a_tar_is_read_as_its_first_bytes_say(byte[] layer, string? code)
    {
        var archive = Archive(layer, $"[\"{Digest.Compute(layer)}\"]");
        if (code is null)
        {
            var image = Assert.Single((await ImportAsync(archive)).Images);
            Assert.Equal(MediaTypes.OciLayerTarGzip, Assert.Single(image.Layers).MediaType);
        }
        else
        {
            var e = await Assert.ThrowsAsync<OciException>(() => ImportAsync(archive));
            // Read as gzip or zstd, two or four bytes are no layer (gzip's reader ends at its truncated header with
            // nothing; zstd's refuses the frame); read as plain, they would hash to their diff_id and pass.
            Assert.Equal(code, e.Code);
        }
    }

    [Fact]
    public async Task A_config_that_is_a_tar_or_a_layer_count_other_than_the_configs_is_refused()
    {
        var tarConfig = await Assert.ThrowsAsync<OciException>(() => ImportAsync(Archive(Tar, config: TestArchives.Layer("config"))));
        Assert.Equal("IM4010", tarConfig.Code);
        Assert.Contains("manifest.json/0: the config 'c.json' is a tar, not a JSON image config", tarConfig.Message, StringComparison.Ordinal);

        var count = await Assert.ThrowsAsync<OciException>(() => ImportAsync(Archive(Tar, layers: "[\"l.tar\",\"l.tar\"]")));
        Assert.Equal("IM4010", count.Code);
        Assert.Contains("manifest.json/0: the config lists 1 layer diff_ids but 2 layers are listed", count.Message, StringComparison.Ordinal);

        var missing = await Assert.ThrowsAsync<OciException>(() => ImportAsync(Archive(Tar, layers: "[\"m.tar\"]")));
        Assert.Equal("IM4010", missing.Code);
        Assert.Contains("names layer 'm.tar' but does not contain it", missing.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("[1]", "manifest.json/0 is not a JSON object.")]
    [InlineData("[{\"Layers\":[]}]", "manifest.json/0/Config is missing.")]
    [InlineData("[{\"Config\":7,\"Layers\":[]}]", "manifest.json/0/Config is missing.")]
    public async Task A_manifest_json_entry_that_is_not_an_image_is_refused(string manifestJson, string words)
    {
        var e = await Assert.ThrowsAsync<OciException>(() => ImportAsync(TestArchives.Tar(("manifest.json", Encoding.UTF8.GetBytes(manifestJson), null))));
        Assert.Equal("IM4010", e.Code);
        Assert.Equal(words, e.Message);
    }

    [Fact]
    public async Task An_image_is_named_by_its_first_tag_and_a_name_without_a_tag_is_latest()
    {
        var output = new MemoryStream();
        var images = await OciImageLayout.ConvertDockerArchiveAsync(
            new MemoryStream(Archive(Tar, tags: "[\"localhost:5000/team/m\",\"m:2\",\"m:3\",7]")), output, CancellationToken.None);
        var image = Assert.Single(images);
        Assert.Equal(["localhost:5000/team/m", "m:2", "m:3"], image.RepoTags);
        Assert.Equal("localhost:5000/team/m", image.Manifest.Annotations![OciImageLayout.ContainerdImageNameAnnotation]);
        Assert.Equal("latest", image.Manifest.Annotations[OciImageLayout.RefNameAnnotation]);

        var files = TestArchives.ReadTar(output.ToArray()).ToDictionary(e => e.Entry.Name, e => e.Content);
        string id = image.Config.Digest.Hex;
        Assert.Equal($"{{\"localhost:5000/team/m\":{{\"latest\":\"{id}\"}},\"m\":{{\"2\":\"{id}\",\"3\":\"{id}\"}}}}", Encoding.UTF8.GetString(files["repositories"]));
        using var manifestJson = JsonDocument.Parse(files["manifest.json"]);
        var entry = Assert.Single(manifestJson.RootElement.EnumerateArray());
        Assert.Equal("blobs/sha256/" + id, entry.GetProperty("Config").GetString());
        Assert.Equal(["blobs/sha256/" + Assert.Single(image.Layers).Digest.Hex], entry.GetProperty("Layers").EnumerateArray().Select(x => x.GetString()));
    }

    [Fact]
    public async Task An_image_without_tags_has_no_name_annotations()
    {
        var image = Assert.Single((await ImportAsync(Archive(Tar, tags: "[]"))).Images);
        Assert.Empty(image.RepoTags);
        Assert.Null(image.Manifest.Annotations);
    }
}
