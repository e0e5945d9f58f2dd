using InfraMind.Oci.Layout;

namespace InfraMind.Oci.Tests;

/// <summary>The bound on what a layer's tar may give (<see cref="LayerContent"/>): at its value, one past, in both read paths.</summary>
public sealed class LayerContentTests
{
    /// <summary>Zeros, <paramref name="length"/> of them, made as they are read (nothing held).</summary>
    private sealed class Zeros(long length) : ReadOnlyStream
    {
        private long _left = length;

        public override int Read(Span<byte> buffer)
        {
            int n = (int)Math.Min(buffer.Length, _left);
            buffer[..n].Clear();
            _left -= n;
            return n;
        }

        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) => ValueTask.FromResult(Read(buffer.Span));
    }

    private static long Drain(Stream s, bool async)
    {
        byte[] buffer = new byte[1 << 20];
        long total = 0;
        int n;
        while ((n = async ? s.ReadAsync(buffer).AsTask().GetAwaiter().GetResult() : s.Read(buffer, 0, buffer.Length)) > 0)
        {
            total += n;
            Assert.Equal(total, s.Position);
        }

        return total;
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void A_layer_gives_its_allowance_and_not_a_byte_more(bool async)
    {
        long max = ArchiveLimits.MaxDecompressedLayerBytes(0);
        using (var exact = LayerContent.OpenTar(new Zeros(max), MediaTypes.OciLayerTar, 0, "layer 0"))
        {
            Assert.Equal(max, Drain(exact, async));
        }

        using var over = LayerContent.OpenTar(new Zeros(max + 1), MediaTypes.OciLayerTar, 0, "layer 0");
        var e = Assert.Throws<OciException>(() => Drain(over, async));
        Assert.Equal("IM4012", e.Code);
        Assert.Equal(
            $"layer 0 ({MediaTypes.OciLayerTar}) decompresses to more than {max} bytes, over {ArchiveLimits.MaxLayerExpansion} times its compressed size " +
            $"(and over {ArchiveLimits.MinDecompressedLayerAllowance} bytes): it looks like a decompression bomb, and reading stopped there.",
            e.Message);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void A_layer_that_does_not_decompress_as_its_media_type_says_is_IM4013_in_both_read_paths(bool async)
    {
        byte[] notGzip = "this is not gzip at all, and no zstd frame either"u8.ToArray();
        foreach (string mediaType in new[] { MediaTypes.OciLayerTarGzip, MediaTypes.DockerLayerTarGzip, MediaTypes.OciLayerTarZstd })
        {
            using var tar = LayerContent.OpenTar(new MemoryStream(notGzip), mediaType, notGzip.Length, "layer 2");
            var e = Assert.Throws<OciException>(() => Drain(tar, async));
            Assert.Equal("IM4013", e.Code);
            Assert.StartsWith($"layer 2 does not decompress as its media type {mediaType} says (", e.Message, StringComparison.Ordinal);
            Assert.NotNull(e.InnerException);
        }
    }

    [Fact]
    public void Media_types_are_sorted_into_plain_gzip_and_zstd()
    {
        Assert.True(LayerContent.IsPlain(MediaTypes.OciLayerTar));
        Assert.True(LayerContent.IsPlain(MediaTypes.DockerLayerTar));
        Assert.False(LayerContent.IsPlain(MediaTypes.OciLayerTarGzip));
        Assert.True(LayerContent.IsGzip(MediaTypes.OciLayerTarGzip));
        Assert.True(LayerContent.IsGzip(MediaTypes.DockerLayerTarGzip));
        Assert.False(LayerContent.IsGzip(MediaTypes.OciLayerTarZstd));
        Assert.True(LayerContent.IsZstd(MediaTypes.OciLayerTarZstd));
        Assert.False(LayerContent.IsZstd(MediaTypes.OciLayerTar));
    }

    [Fact]
    public void A_mismatch_says_whether_the_layer_hashes_or_decompresses_to_the_other_digest()
    {
        var other = Digest.Compute([1]);
        var plain = LayerContent.Mismatch("layer 1", new Descriptor(MediaTypes.OciLayerTar, Digest.Compute([]), 0), "sha256:x", other);
        Assert.Equal("IM4013", plain.Code);
        Assert.Contains($"hashes to {other} but the image config says its diff_id is sha256:x", plain.Message, StringComparison.Ordinal);
        var gzip = LayerContent.Mismatch("layer 1", new Descriptor(MediaTypes.OciLayerTarGzip, Digest.Compute([]), 0), "sha256:x", other);
        Assert.Contains($"decompresses to {other}", gzip.Message, StringComparison.Ordinal);
    }
}
