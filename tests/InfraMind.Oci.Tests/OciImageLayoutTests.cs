using System.Formats.Tar;
using System.Text;
using System.Text.Json;
using InfraMind.Testing;

namespace InfraMind.Oci.Tests;

public sealed class OciImageLayoutTests : IDisposable
{
    private readonly TempDirectory _dir = new("im-oci-tests");

    public void Dispose() => _dir.Dispose();

    private static async Task<(byte[] Tar, IReadOnlyList<OciImage> Images)> ConvertAsync(byte[] dockerSave)
    {
        var output = new MemoryStream();
        var images = await OciImageLayout.ConvertDockerArchiveAsync(new MemoryStream(dockerSave), output, CancellationToken.None);
        return (output.ToArray(), images);
    }

    [Fact]
    public async Task Converting_the_same_archive_twice_gives_byte_identical_tars()
    {
        var (first, _) = await ConvertAsync(TestArchives.Legacy());
        var (second, _) = await ConvertAsync(TestArchives.Legacy());
        Assert.Equal(first, second);
    }

    [Fact]
    public async Task Legacy_and_Docker25_archives_of_one_image_give_the_same_container_hash_and_bytes()
    {
        var (legacy, a) = await ConvertAsync(TestArchives.Legacy());
        var (modern, b) = await ConvertAsync(TestArchives.Docker25());
        Assert.Equal(a[0].ManifestDigest, b[0].ManifestDigest);
        Assert.Equal(legacy, modern);
    }

    [Fact]
    public async Task Layout_has_oci_media_types_and_correct_digests_and_sizes()
    {
        var (tar, images) = await ConvertAsync(TestArchives.Legacy());
        var (l1, l2, config) = TestArchives.Image();
        var image = Assert.Single(images);
        var files = TestArchives.ReadTar(tar).ToDictionary(e => e.Entry.Name, e => e.Content);

        Assert.Equal("{\"imageLayoutVersion\":\"1.0.0\"}", Encoding.UTF8.GetString(files["oci-layout"]));

        using var index = JsonDocument.Parse(files["index.json"]);
        var m = Assert.Single(index.RootElement.GetProperty("manifests").EnumerateArray());
        Assert.Equal(MediaTypes.OciManifest, m.GetProperty("mediaType").GetString());
        Assert.Equal("1.0", m.GetProperty("annotations").GetProperty(OciImageLayout.RefNameAnnotation).GetString());
        Assert.Equal("demo/model:1.0", m.GetProperty("annotations").GetProperty(OciImageLayout.ContainerdImageNameAnnotation).GetString());
        string manifestDigest = m.GetProperty("digest").GetString()!;
        Assert.Equal(image.ManifestDigest.Value, manifestDigest);

        byte[] manifestBytes = files["blobs/sha256/" + Digest.Parse(manifestDigest).Hex];
        Assert.Equal(manifestDigest, Digest.Compute(manifestBytes).Value);
        Assert.Equal(manifestBytes.Length, m.GetProperty("size").GetInt64());
        Assert.DoesNotContain("\\u002B", Encoding.UTF8.GetString(manifestBytes));

        using var manifest = JsonDocument.Parse(manifestBytes);
        Assert.Equal(2, manifest.RootElement.GetProperty("schemaVersion").GetInt32());
        var cfg = manifest.RootElement.GetProperty("config");
        Assert.Equal(MediaTypes.OciConfig, cfg.GetProperty("mediaType").GetString());
        Assert.Equal(Digest.Compute(config).Value, cfg.GetProperty("digest").GetString());
        Assert.Equal(config.Length, cfg.GetProperty("size").GetInt64());
        var layers = manifest.RootElement.GetProperty("layers").EnumerateArray().ToArray();
        Assert.Equal(3, layers.Length);
        byte[][] expected = [l1, l2, l1];
        var blobs = new string[3];
        for (int i = 0; i < 3; i++)
        {
            // Layers are stored gzip-compressed; the blob decompresses to the tar the config's diff_id names.
            Assert.Equal(MediaTypes.OciLayerTarGzip, layers[i].GetProperty("mediaType").GetString());
            var digest = Digest.Parse(layers[i].GetProperty("digest").GetString()!);
            byte[] blob = files["blobs/sha256/" + digest.Hex];
            Assert.Equal(digest, Digest.Compute(blob));
            Assert.Equal(blob.Length, layers[i].GetProperty("size").GetInt64());
            Assert.Equal(expected[i], Gunzip(blob));
            blobs[i] = "blobs/sha256/" + digest.Hex;
        }

        Assert.Equal(layers[0].GetProperty("digest").GetString(), layers[2].GetProperty("digest").GetString());

        // Docker 20.10 reads only manifest.json; it must point at the OCI blobs in diff_id order.
        using var dockerManifest = JsonDocument.Parse(files["manifest.json"]);
        var dm = Assert.Single(dockerManifest.RootElement.EnumerateArray());
        Assert.Equal("blobs/sha256/" + Digest.Compute(config).Hex, dm.GetProperty("Config").GetString());
        Assert.Equal(["demo/model:1.0"], dm.GetProperty("RepoTags").EnumerateArray().Select(x => x.GetString()));
        Assert.Equal(blobs, dm.GetProperty("Layers").EnumerateArray().Select(x => x.GetString()));
        Assert.Equal($"{{\"demo/model\":{{\"1.0\":\"{Digest.Compute(config).Hex}\"}}}}", Encoding.UTF8.GetString(files["repositories"]));
    }

    private static byte[] Gunzip(byte[] gzip)
    {
        using var z = new System.IO.Compression.GZipStream(new MemoryStream(gzip), System.IO.Compression.CompressionMode.Decompress);
        var tar = new MemoryStream();
        z.CopyTo(tar);
        return tar.ToArray();
    }

    [Fact]
    public async Task Tar_entries_are_sorted_ustar_with_zero_times_owners_and_fixed_modes()
    {
        var (tar, _) = await ConvertAsync(TestArchives.Legacy());
        var entries = TestArchives.ReadTar(tar).Select(e => e.Entry).ToList();
        Assert.Equal(entries.Select(e => e.Name).Order(StringComparer.Ordinal), entries.Select(e => e.Name));
        Assert.Equal("blobs/", entries[0].Name);
        Assert.Equal("blobs/sha256/", entries[1].Name);
        Assert.Equal(["index.json", "manifest.json", "oci-layout", "repositories"], entries.TakeLast(4).Select(e => e.Name));
        Assert.Equal(2 + 4 + 4, entries.Count); // 2 dirs, 2 layers + config + manifest, 4 metadata files
        foreach (var e in entries)
        {
            var posix = Assert.IsType<UstarTarEntry>(e);
            Assert.Equal(TarEntryFormat.Ustar, e.Format);
            Assert.Equal(DateTimeOffset.UnixEpoch, e.ModificationTime);
            Assert.Equal(0, e.Uid);
            Assert.Equal(0, e.Gid);
            Assert.Equal(string.Empty, posix.UserName);
            Assert.Equal(string.Empty, posix.GroupName);
            Assert.Equal(e.EntryType == TarEntryType.Directory ? (UnixFileMode)0b111_101_101 : (UnixFileMode)0b110_100_100, e.Mode);
        }

        Assert.Equal(0, tar.Length % 512);
    }

    [Fact]
    public async Task Extracting_a_layout_tar_verifies_it_and_writing_it_again_gives_the_same_bytes()
    {
        var (tar, images) = await ConvertAsync(TestArchives.Legacy());
        var layout = await OciImageLayout.ExtractAsync(new MemoryStream(tar), _dir.Path, CancellationToken.None);
        var image = Assert.Single(layout.Images);
        Assert.Equal(images[0].ManifestDigest, image.ManifestDigest);
        Assert.Equal(images[0].Config, image.Config);
        Assert.Equal(images[0].Layers, image.Layers);
        Assert.Equal(["demo/model:1.0"], image.RepoTags);

        var again = new MemoryStream();
        await OciImageLayout.WriteTarAsync(layout, again, CancellationToken.None);
        Assert.Equal(tar, again.ToArray());

        var reopened = await OciImageLayout.OpenAsync(_dir.Path, CancellationToken.None);
        Assert.Equal(image.ManifestDigest, Assert.Single(reopened.Images).ManifestDigest);
    }

    [Fact]
    public async Task A_tampered_blob_in_a_layout_tar_is_refused_naming_both_digests()
    {
        var (tar, images) = await ConvertAsync(TestArchives.Legacy());
        var l1 = images[0].Layers[0].Digest;
        var entries = TestArchives.ReadTar(tar);
        string victim = "blobs/sha256/" + l1.Hex;
        var rebuilt = entries.Select(e =>
        {
            byte[]? content = e.Entry.EntryType == TarEntryType.Directory ? null : e.Content;
            if (e.Entry.Name == victim)
            {
                content = (byte[])content!.Clone();
                content[content.Length / 2] ^= 0xff;
            }

            return (e.Entry.Name, content, (string?)null);
        }).ToArray();

        var ex = await Assert.ThrowsAsync<DigestMismatchException>(() =>
            OciImageLayout.ExtractAsync(new MemoryStream(TestArchives.Tar(rebuilt)), _dir.Path, CancellationToken.None));
        Assert.Equal("IM4002", ex.Code);
        Assert.Equal(l1, ex.Expected);
        Assert.Contains(ex.Expected.Value, ex.Message);
        Assert.Contains(ex.Actual.Value, ex.Message);
        Assert.NotEqual(images[0].ManifestDigest, ex.Actual);
    }

    [Fact]
    public async Task A_layout_whose_manifest_names_a_missing_layer_is_refused()
    {
        var (tar, images) = await ConvertAsync(TestArchives.Legacy());
        var l2 = images[0].Layers[1].Digest;
        string missing = "blobs/sha256/" + l2.Hex;
        var rebuilt = TestArchives.ReadTar(tar)
            .Where(e => e.Entry.Name != missing)
            .Select(e => (e.Entry.Name, e.Entry.EntryType == TarEntryType.Directory ? null : e.Content, (string?)null))
            .ToArray();
        var ex = await Assert.ThrowsAsync<OciException>(() =>
            OciImageLayout.ExtractAsync(new MemoryStream(TestArchives.Tar(rebuilt)), _dir.Path, CancellationToken.None));
        Assert.Equal("IM4011", ex.Code);
        Assert.Contains(l2.Value, ex.Message);
    }

    [Fact]
    public async Task Extracting_over_a_directory_verifies_blobs_it_already_held()
    {
        var (tar, images) = await ConvertAsync(TestArchives.Legacy());
        var l2Digest = images[0].Layers[1].Digest;
        string name = "blobs/sha256/" + l2Digest.Hex;
        byte[] l2 = TestArchives.ReadTar(tar).Single(e => e.Entry.Name == name).Content;
        var withoutL2 = TestArchives.ReadTar(tar)
            .Where(e => e.Entry.Name != name)
            .Select(e => (e.Entry.Name, e.Entry.EntryType == TarEntryType.Directory ? null : e.Content, (string?)null))
            .ToArray();
        Directory.CreateDirectory(_dir.Combine("blobs", "sha256"));
        byte[] corrupt = (byte[])l2.Clone();
        corrupt[0] ^= 1;
        await File.WriteAllBytesAsync(_dir.Combine(name), corrupt);
        var ex = await Assert.ThrowsAsync<DigestMismatchException>(() =>
            OciImageLayout.ExtractAsync(new MemoryStream(TestArchives.Tar(withoutL2)), _dir.Path, CancellationToken.None));
        Assert.Equal(l2Digest, ex.Expected);
    }

    [Fact]
    public async Task OpenAsync_detects_a_blob_corrupted_on_disk()
    {
        var (tar, _) = await ConvertAsync(TestArchives.Legacy());
        var layout = await OciImageLayout.ExtractAsync(new MemoryStream(tar), _dir.Path, CancellationToken.None);
        string path = layout.BlobPath(layout.Images[0].Layers[1].Digest);
        byte[] bytes = await File.ReadAllBytesAsync(path);
        bytes[^1] ^= 1;
        await File.WriteAllBytesAsync(path, bytes);
        var ex = await Assert.ThrowsAsync<DigestMismatchException>(() => OciImageLayout.OpenAsync(_dir.Path, CancellationToken.None));
        Assert.Equal(layout.Images[0].Layers[1].Digest, ex.Expected);
    }

    [Fact]
    public async Task An_archive_without_manifest_json_is_refused_with_a_fix()
    {
        byte[] notDocker = TestArchives.Tar(("hello.txt", Encoding.UTF8.GetBytes("hi"), null));
        var ex = await Assert.ThrowsAsync<OciException>(() => ConvertAsync(notDocker));
        Assert.Equal("IM4010", ex.Code);
        Assert.Contains("docker save", ex.Message);
    }

    [Fact]
    public async Task A_manifest_json_that_is_not_json_says_where_without_dotnet_text()
    {
        byte[] broken = TestArchives.Tar(("manifest.json", Encoding.UTF8.GetBytes("[\n  {oops}]"), null));
        var ex = await Assert.ThrowsAsync<OciException>(() => ConvertAsync(broken));
        Assert.Equal("IM4010", ex.Code);
        Assert.EndsWith("is not valid JSON (line 2, byte 4).", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Garbage_instead_of_a_tar_is_refused_with_a_stable_code()
    {
        byte[] garbage = Enumerable.Range(0, 2048).Select(i => (byte)(i * 7)).ToArray();
        var ex = await Assert.ThrowsAsync<OciException>(() => ConvertAsync(garbage));
        Assert.Equal("IM4010", ex.Code);
    }

    [Fact]
    public async Task Gzip_layers_of_the_archive_are_recompressed_canonically()
    {
        var (_, _, config0) = TestArchives.Image();
        var gz = new MemoryStream();
        using (var z = new System.IO.Compression.GZipStream(gz, System.IO.Compression.CompressionLevel.Fastest, leaveOpen: true))
        {
            z.Write(TestArchives.Layer("gz"));
        }

        byte[] layer = gz.ToArray();
        byte[] config = Encoding.UTF8.GetBytes($"{{\"rootfs\":{{\"type\":\"layers\",\"diff_ids\":[\"{Digest.Compute(TestArchives.Layer("gz"))}\"]}}}}");
        Assert.NotEqual(config0, config);
        byte[] archive = TestArchives.Tar(
            ("l/layer.tar", layer, null),
            ("c.json", config, null),
            ("manifest.json", Encoding.UTF8.GetBytes("[{\"Config\":\"c.json\",\"RepoTags\":null,\"Layers\":[\"l/layer.tar\"]}]"), null));
        var (_, images) = await ConvertAsync(archive);
        var stored = Assert.Single(images[0].Layers);
        Assert.Equal(MediaTypes.OciLayerTarGzip, stored.MediaType);
        // Recompressed deterministically: the archive's own gzip bytes (another level) are not kept.
        Assert.NotEqual(Digest.Compute(layer), stored.Digest);
        Assert.Empty(images[0].RepoTags);
        Assert.Null(images[0].Manifest.Annotations);
    }
}

public sealed class DockerArchiveVariantsTests
{
    private static async Task<(byte[] Tar, IReadOnlyList<OciImage> Images)> ConvertAsync(byte[] dockerSave)
    {
        var output = new MemoryStream();
        var images = await OciImageLayout.ConvertDockerArchiveAsync(new MemoryStream(dockerSave), output, CancellationToken.None);
        return (output.ToArray(), images);
    }

    [Fact]
    public async Task An_oci_only_archive_without_manifest_json_converts_to_the_same_layout()
    {
        var (legacy, a) = await ConvertAsync(TestArchives.Legacy());
        var (ociOnly, b) = await ConvertAsync(TestArchives.Docker25(withManifestJson: false));
        Assert.Equal(a[0].ManifestDigest, b[0].ManifestDigest);
        Assert.Equal(["demo/model:1.0"], b[0].RepoTags);
        Assert.Equal(legacy, ociOnly);
    }

    [Fact]
    public async Task A_blob_whose_content_does_not_match_its_name_is_refused()
    {
        var (l1, _, _) = TestArchives.Image();
        string name = "blobs/sha256/" + Digest.Compute(l1).Hex;
        var entries = TestArchives.ReadTar(TestArchives.Docker25())
            .Select(e => (e.Entry.Name, e.Entry.EntryType == System.Formats.Tar.TarEntryType.Directory ? null : e.Entry.Name == name ? TestArchives.Layer("evil") : e.Content, (string?)null))
            .ToArray();
        var ex = await Assert.ThrowsAsync<DigestMismatchException>(() => ConvertAsync(TestArchives.Tar(entries)));
        Assert.Equal(Digest.Compute(l1), ex.Expected);
        Assert.Equal(Digest.Compute(TestArchives.Layer("evil")), ex.Actual);
    }

    /// <summary>
    /// A blob's name is checked through a link too: before, a link at blobs/sha256/HEX to a file of other bytes passed,
    /// so an archive's index could name one manifest and the import read another (its own output, rebuilt and hashed
    /// again, stayed consistent, but not with what the archive named).
    /// </summary>
    [Fact]
    public async Task A_blob_name_that_is_a_link_to_other_bytes_is_refused()
    {
        var entries = TestArchives.ReadTar(TestArchives.Docker25(withManifestJson: false));
        var index = System.Text.Json.JsonDocument.Parse(entries.Single(e => e.Entry.Name == "index.json").Content);
        var named = Digest.Parse(index.RootElement.GetProperty("manifests")[0].GetProperty("digest").GetString()!);
        var manifest = entries.Single(e => e.Entry.Name == "blobs/sha256/" + named.Hex).Content;
        byte[] other = [.. manifest, (byte)' '];
        var linked = entries
            .Select(e => (e.Entry.Name, e.Entry.EntryType == System.Formats.Tar.TarEntryType.Directory ? null : e.Content,
                e.Entry.Name == "blobs/sha256/" + named.Hex ? "../../other.json" : (string?)null))
            .Append(("other.json", other, null))
            .ToArray();
        var ex = await Assert.ThrowsAsync<DigestMismatchException>(() => ConvertAsync(TestArchives.Tar(linked)));
        Assert.Equal((named, Digest.Compute(other)), (ex.Expected, ex.Actual));

        // A link to the same bytes is what it names: taken.
        var same = linked.Select(e => e.Item1 == "other.json" ? (e.Item1, manifest, e.Item3) : e).ToArray();
        Assert.Single((await ConvertAsync(TestArchives.Tar(same))).Item2);
    }

    [Fact]
    public async Task A_layer_that_is_not_the_configs_diff_id_is_refused()
    {
        var (_, _, config) = TestArchives.Image();
        byte[] archive = TestArchives.Tar(
            ("a/layer.tar", TestArchives.Layer("other"), null),
            ("b/layer.tar", TestArchives.Layer("two"), null),
            ("c/layer.tar", TestArchives.Layer("one"), null),
            ("c.json", config, null),
            ("manifest.json", System.Text.Encoding.UTF8.GetBytes("[{\"Config\":\"c.json\",\"RepoTags\":[\"x:1\"],\"Layers\":[\"a/layer.tar\",\"b/layer.tar\",\"c/layer.tar\"]}]"), null));
        var ex = await Assert.ThrowsAsync<OciException>(() => ConvertAsync(archive));
        Assert.Equal("IM4013", ex.Code);
        Assert.Contains("diff_id", ex.Message);
    }
}

public sealed class PipeTests
{
    [Fact]
    public async Task Conversion_works_from_and_to_forward_only_streams_like_pipes()
    {
        var expected = new MemoryStream();
        await OciImageLayout.ConvertDockerArchiveAsync(new MemoryStream(TestArchives.Legacy()), expected, CancellationToken.None);

        var output = new MemoryStream();
        await OciImageLayout.ConvertDockerArchiveAsync(new ForwardOnly(new MemoryStream(TestArchives.Legacy())), new ForwardOnly(output), CancellationToken.None);
        Assert.Equal(expected.ToArray(), output.ToArray());

        using var dir = new TempDirectory("im-oci-pipe");
        var layout = await OciImageLayout.ExtractAsync(new ForwardOnly(new MemoryStream(output.ToArray())), dir.Path, CancellationToken.None);
        Assert.Single(layout.Images);
    }

    /// <summary>Hides seeking and length, as a pipe from <c>docker save</c> or to <c>ipfs add</c> would.</summary>
    private sealed class ForwardOnly(Stream inner) : Stream
    {
        public override bool CanRead => inner.CanRead;

        public override bool CanSeek => false;

        public override bool CanWrite => inner.CanWrite;

        public override long Length => throw new NotSupportedException();

        public override long Position
        {
            get => throw new NotSupportedException();
            set => throw new NotSupportedException();
        }

        public override int Read(byte[] buffer, int offset, int count) => inner.Read(buffer, offset, Math.Min(count, 1000));

        public override void Write(byte[] buffer, int offset, int count) => inner.Write(buffer, offset, count);

        public override void Flush() => inner.Flush();

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();
    }
}
