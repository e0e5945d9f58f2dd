using System.Diagnostics;
using System.IO.Compression;
using System.Text;
using InfraMind.Oci.Layout;
using InfraMind.Testing;

namespace InfraMind.Oci.Tests;

/// <summary>Deterministic multi-member gzip (LayerCompression) and bounded reading inside layers (LayerContent).</summary>
public sealed class LayerCompressionTests : IDisposable
{
    private static readonly byte[] FixedHeader = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255];

    private readonly TempDirectory _dir = new("im-oci-gzip");

    public void Dispose() => _dir.Dispose();

    /// <summary>Text-like content that compresses as a real layer does (neither zeros nor noise).</summary>
    private static byte[] Content(int length, int seed)
    {
        var random = new Random(seed);
        string[] words = ["model", "weights", "tensor", "layer", "python3", "site-packages", "import", "def", "return", "0.125"];
        var sb = new StringBuilder(length + 16);
        while (sb.Length < length)
        {
            sb.Append(words[random.Next(words.Length)]).Append(random.Next(3) == 0 ? '\n' : ' ');
        }

        return Encoding.ASCII.GetBytes(sb.ToString(0, length));
    }

    private static async Task<(byte[] Gzip, Digest Compressed, Digest Uncompressed, long UncompressedSize)> GzipAsync(byte[] input)
    {
        var output = new MemoryStream();
        var r = await LayerCompression.GzipAsync(new MemoryStream(input), output, CancellationToken.None);
        return (output.ToArray(), r.Compressed, r.Uncompressed, r.UncompressedSize);
    }

    private static byte[] Gunzip(byte[] gzip)
    {
        using var z = new GZipStream(new MemoryStream(gzip), CompressionMode.Decompress);
        var tar = new MemoryStream();
        z.CopyTo(tar);
        return tar.ToArray();
    }

    /// <summary>Offsets of the gzip members, found by their fixed 10-byte header (which this text never deflates to).</summary>
    private static List<int> MemberOffsets(byte[] gzip)
    {
        var offsets = new List<int>();
        int at = 0;
        while (at < gzip.Length)
        {
            offsets.Add(at);
            int next = gzip.AsSpan(at + 10).IndexOf(FixedHeader);
            at = next < 0 ? gzip.Length : at + 10 + next;
        }

        return offsets;
    }

    [Fact]
    public async Task The_same_tar_always_gives_the_same_bytes_and_every_header_is_fixed()
    {
        byte[] tar = Content((2 * LayerCompression.ChunkSize) + 12345, seed: 1);
        var first = await GzipAsync(tar);
        var second = await GzipAsync(tar);
        Assert.Equal(first.Gzip, second.Gzip);
        Assert.Equal(first.Compressed, Digest.Compute(first.Gzip));
        Assert.Equal(Digest.Compute(tar), first.Uncompressed);
        Assert.Equal(tar.Length, first.UncompressedSize);

        // Three chunks → three members, each with the same 10 header bytes (mtime 0, XFL 0, OS 255, no name).
        var members = MemberOffsets(first.Gzip);
        Assert.Equal(3, members.Count);
        Assert.All(members, m => Assert.Equal(FixedHeader, first.Gzip.AsSpan(m, 10).ToArray()));

        // A one-byte change changes only its own member.
        byte[] changed = (byte[])tar.Clone();
        changed[^1] ^= 1;
        var third = await GzipAsync(changed);
        Assert.Equal(first.Gzip.AsSpan(0, members[2]).ToArray(), third.Gzip.AsSpan(0, members[2]).ToArray());
        Assert.NotEqual(first.Compressed, third.Compressed);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(LayerCompression.ChunkSize)]
    [InlineData((3 * LayerCompression.ChunkSize) + 7)]
    public async Task Multi_member_gzip_round_trips_through_dotnet_and_gzip1(int length)
    {
        byte[] tar = Content(length, seed: length);
        var (gzip, _, _, _) = await GzipAsync(tar);
        Assert.Equal(tar, Gunzip(gzip));
        Assert.True(gzip.Length < Math.Max(64, tar.Length / 2), $"{tar.Length} bytes compressed to {gzip.Length}");

        // gzip(1), an independent reader (zlib's own inflate, member by member), checks every CRC and size.
        string path = _dir.Combine($"layer-{length}.gz");
        await File.WriteAllBytesAsync(path, gzip);
        var psi = new ProcessStartInfo("gzip", ["-dc", path]) { RedirectStandardOutput = true, RedirectStandardError = true };
        using var p = Process.Start(psi)!;
        var output = new MemoryStream();
        var stderr = p.StandardError.ReadToEndAsync();
        await p.StandardOutput.BaseStream.CopyToAsync(output);
        await p.WaitForExitAsync();
        Assert.True(p.ExitCode == 0, "gzip -dc failed: " + await stderr);
        Assert.Equal(tar, output.ToArray());
    }

    [Fact]
    public async Task Chunking_costs_almost_nothing_against_one_gzip_stream()
    {
        byte[] tar = Content(3 * LayerCompression.ChunkSize, seed: 7);
        var (ours, _, _, _) = await GzipAsync(tar);
        var single = new MemoryStream();
        using (var z = new GZipStream(single, new ZLibCompressionOptions { CompressionLevel = LayerCompression.Level }, leaveOpen: true))
        {
            z.Write(tar);
        }

        Assert.True(ours.Length <= single.Length * 1.01, $"multi-member {ours.Length} bytes against one stream's {single.Length}");
    }

    /// <summary>A gzip bomb: one 8 MiB member of zeros (about 8 KB) repeated, so 2.5 MB inflate to 2.5 GB.</summary>
    private static byte[] GzipBomb(int members)
    {
        var pooled = LayerCompression.GzipMember(new byte[8 << 20], System.Buffers.ArrayPool<byte>.Shared);
        byte[] member = pooled.Bytes.ToArray();
        pooled.Return();
        var bomb = new byte[member.Length * members];
        for (int i = 0; i < members; i++)
        {
            member.CopyTo(bomb, i * member.Length);
        }

        return bomb;
    }

    [Fact]
    public async Task A_gzip_bomb_is_refused_after_the_allowance_with_a_fixed_buffer()
    {
        byte[] bomb = GzipBomb(300);
        long limit = ArchiveLimits.MaxDecompressedLayerBytes(bomb.Length);
        Assert.Equal(ArchiveLimits.MinDecompressedLayerAllowance, limit);
        var tar = LayerContent.OpenTar(new MemoryStream(bomb), MediaTypes.OciLayerTarGzip, bomb.Length, "layer 0");
        long read = 0;
        var buffer = new byte[1 << 20];
        var ex = await Assert.ThrowsAsync<OciException>(async () =>
        {
            int n;
            while ((n = await tar.ReadAsync(buffer)) > 0)
            {
                read += n;
            }
        });
        Assert.Equal("IM4012", ex.Code);
        Assert.Contains("decompression bomb", ex.Message);
        // Reading stopped at the bound: never more than one buffer past it, of the 2.5 GB the bomb holds.
        Assert.InRange(read, limit - buffer.Length, limit);
    }

    [Fact]
    public async Task A_zstd_bomb_is_refused_and_a_zstd_layer_reads_back()
    {
        using var compressor = new ZstdSharp.Compressor(3);
        byte[] bomb = compressor.Wrap(new byte[300 << 20]).ToArray();
        Assert.True(bomb.Length < 1 << 20);
        var tar = LayerContent.OpenTar(new MemoryStream(bomb), MediaTypes.OciLayerTarZstd, bomb.Length, "layer 0");
        var ex = await Assert.ThrowsAsync<OciException>(() => tar.CopyToAsync(Stream.Null));
        Assert.Equal("IM4012", ex.Code);

        byte[] content = Content(100_000, seed: 3);
        var back = new MemoryStream();
        await LayerContent.OpenTar(new MemoryStream(compressor.Wrap(content).ToArray()), MediaTypes.OciLayerTarZstd, 0, "layer 0").CopyToAsync(back);
        Assert.Equal(content, back.ToArray());
    }

    [Fact]
    public async Task A_gzip_layer_in_a_layout_is_checked_against_its_diff_id_bombs_and_corruption_refused()
    {
        byte[] tar = TestArchives.Layer("one");
        var (gzip, _, _, _) = await GzipAsync(tar);
        var ok = await OpenLayoutAsync("ok", gzip, MediaTypes.OciLayerTarGzip, Digest.Compute(tar));
        Assert.Equal(MediaTypes.OciLayerTarGzip, Assert.Single(Assert.Single(ok.Images).Layers).MediaType);

        var other = await Assert.ThrowsAsync<OciException>(() => OpenLayoutAsync("other", gzip, MediaTypes.OciLayerTarGzip, Digest.Compute(TestArchives.Layer("two"))));
        Assert.Equal("IM4013", other.Code);
        Assert.Contains("diff_id", other.Message);

        byte[] corrupt = (byte[])gzip.Clone();
        corrupt[corrupt.Length / 2] ^= 0xff;
        var broken = await Assert.ThrowsAsync<OciException>(() => OpenLayoutAsync("corrupt", corrupt, MediaTypes.OciLayerTarGzip, Digest.Compute(tar)));
        Assert.Equal("IM4013", broken.Code);

        var mislabelled = await Assert.ThrowsAsync<OciException>(() => OpenLayoutAsync("zstd", gzip, MediaTypes.OciLayerTarZstd, Digest.Compute(tar)));
        Assert.Equal("IM4013", mislabelled.Code);

        byte[] bomb = GzipBomb(300);
        var refused = await Assert.ThrowsAsync<OciException>(() => OpenLayoutAsync("bomb", bomb, MediaTypes.OciLayerTarGzip, Digest.Compute(tar)));
        Assert.Equal("IM4012", refused.Code);
    }

    [Fact]
    public async Task Two_imports_of_one_archive_give_the_same_compressed_bytes_and_manifest()
    {
        byte[] archive = TestArchives.Legacy();
        var a = await OciImageLayout.ImportDockerArchiveAsync(new MemoryStream(archive), _dir.Combine("a"), CancellationToken.None);
        var b = await OciImageLayout.ImportDockerArchiveAsync(new MemoryStream(archive), _dir.Combine("b"), CancellationToken.None);
        Assert.Equal(a.Images[0].ManifestDigest, b.Images[0].ManifestDigest);
        foreach (var layer in a.Images[0].Layers)
        {
            Assert.Equal(MediaTypes.OciLayerTarGzip, layer.MediaType);
            Assert.Equal(await File.ReadAllBytesAsync(a.BlobPath(layer.Digest)), await File.ReadAllBytesAsync(b.BlobPath(layer.Digest)));
        }

        // The layout opens again with every diff_id checked through decompression.
        var reopened = await OciImageLayout.OpenAsync(_dir.Combine("a"), CancellationToken.None);
        Assert.Equal(a.Images[0].ManifestDigest, reopened.Images[0].ManifestDigest);
    }

    private async Task<OciLayout> OpenLayoutAsync(string name, byte[] layer, string mediaType, Digest diffId)
    {
        string dir = _dir.Combine(name);
        Directory.CreateDirectory(Path.Combine(dir, "blobs", "sha256"));
        byte[] config = Encoding.UTF8.GetBytes($"{{\"architecture\":\"amd64\",\"os\":\"linux\",\"rootfs\":{{\"type\":\"layers\",\"diff_ids\":[\"{diffId}\"]}}}}");
        var configDescriptor = new Descriptor(MediaTypes.OciConfig, Digest.Compute(config), config.Length);
        var layerDescriptor = new Descriptor(mediaType, Digest.Compute(layer), layer.Length);
        byte[] manifest = LayoutDocuments.BuildManifest(configDescriptor, [layerDescriptor]);
        foreach (byte[] blob in new[] { config, layer, manifest })
        {
            await File.WriteAllBytesAsync(Path.Combine(dir, "blobs", "sha256", Digest.Compute(blob).Hex), blob);
        }

        await File.WriteAllBytesAsync(Path.Combine(dir, "index.json"), LayoutDocuments.BuildIndex([new Descriptor(MediaTypes.OciManifest, Digest.Compute(manifest), manifest.Length)]));
        await File.WriteAllTextAsync(Path.Combine(dir, "oci-layout"), LayoutDocuments.LayoutFileContent);
        return await OciImageLayout.OpenAsync(dir, CancellationToken.None);
    }
}
