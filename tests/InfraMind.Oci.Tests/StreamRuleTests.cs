using System.Buffers;
using InfraMind.Oci.Layout;
using InfraMind.Testing;

namespace InfraMind.Oci.Tests;

/// <summary>Edges of the verifying streams, the sink, the gzip members and the importer's scratch files.</summary>
public sealed class StreamRuleTests : IDisposable
{
    private static readonly byte[] Content = "content whose digest was taken"u8.ToArray();

    private readonly TempDirectory _dir = new("im-oci-streams");

    public void Dispose() => _dir.Dispose();

    [Fact]
    public async Task A_read_of_no_bytes_judges_nothing_and_the_content_is_still_verified_at_its_end()
    {
        await using var stream = new DigestVerifyingStream(new MemoryStream(Content), Digest.Compute(Content), Content.Length);
        Assert.Equal(0, await stream.ReadAsync(Memory<byte>.Empty));
        Assert.Equal(0, stream.Read([], 0, 0));
        Assert.Equal(0, stream.Position);
        Assert.Equal(Content.Length, stream.Length);
        byte[] buffer = new byte[Content.Length];
        await stream.ReadExactlyAsync(buffer);
        Assert.True(stream.IsVerified);
        Assert.Equal(Content.Length, stream.Position);
    }

    [Fact]
    public void Without_a_size_the_length_is_unknown_and_the_error_names_the_blob()
    {
        using var stream = new DigestVerifyingStream(new MemoryStream(Content), Digest.Compute([]));
        Assert.Null(stream.ExpectedSize);
        Assert.Throws<NotSupportedException>(() => stream.Length);
        var e = Assert.Throws<DigestMismatchException>(() => stream.CopyTo(Stream.Null));
        Assert.StartsWith($"blob {Digest.Compute([])} does not match its digest", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_inner_stream_is_closed_with_the_verifying_one_unless_left_open()
    {
        var inner = new MemoryStream(Content);
        new DigestVerifyingStream(inner, Digest.Compute(Content), leaveOpen: true).Dispose();
        Assert.True(inner.CanRead);
        new DigestVerifyingStream(inner, Digest.Compute(Content)).Dispose();
        Assert.False(inner.CanRead);
    }

    [Fact]
    public void Arriving_content_past_its_size_says_the_source_serves_other_content()
    {
        using var check = new DigestCheck(Digest.Compute(Content), 4, "blob x", arriving: true);
        var e = Assert.Throws<OciException>(() => check.Append(Content));
        Assert.Equal("IM4003", e.Code);
        Assert.Equal($"blob x should be 4 bytes but more arrived; the source is serving other content than {Digest.Compute(Content)}.", e.Message);
        check.Append([]);
        Assert.Equal(0, check.Count);
    }

    [Fact]
    public async Task A_sink_honours_cancellation()
    {
        using var sink = new DigestSink();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => sink.WriteAsync(Content, new CancellationToken(canceled: true)).AsTask());
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(64 << 10)]
    public void A_gzip_member_of_incompressible_bytes_fits_its_buffer_and_reads_back(int length)
    {
        byte[] noise = new byte[length];
        new Random(length).NextBytes(noise);
        var member = LayerCompression.GzipMember(noise, ArrayPool<byte>.Shared);
        try
        {
            Assert.True(member.Length <= LayerCompression.MaxMemberBytes(length));
            using var z = new System.IO.Compression.GZipStream(new MemoryStream(member.Bytes.ToArray()), System.IO.Compression.CompressionMode.Decompress);
            var back = new MemoryStream();
            z.CopyTo(back);
            Assert.Equal(noise, back.ToArray());
            Assert.Equal([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255], member.Bytes[..10].ToArray());
        }
        finally
        {
            member.Return();
        }
    }

    [Theory]
    [InlineData(false, "IM4011", "the OCI layout tar is not a readable tar (")]
    [InlineData(true, "IM4010", "the docker save archive is not a readable tar (")]
    public async Task Garbage_is_no_tar_in_the_words_and_code_of_each_reader(bool asDockerSave, string code, string words)
    {
        byte[] garbage = new byte[1024];
        new Random(3).NextBytes(garbage);
        var e = await Assert.ThrowsAsync<OciException>(() => LayoutParts.ReadAsync(garbage, asDockerSave, _dir.Path));
        Assert.Equal(code, e.Code);
        Assert.StartsWith(words, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_import_leaves_no_scratch_files_whether_it_succeeds_or_fails()
    {
        string ok = _dir.Combine("ok");
        await OciImageLayout.ImportDockerArchiveAsync(new MemoryStream(TestArchives.Legacy()), ok, CancellationToken.None);
        Assert.Equal(["blobs"], Directory.GetDirectories(ok).Select(Path.GetFileName));
        Assert.All(Directory.GetFiles(Path.Combine(ok, "blobs", "sha256")), f => Assert.True(Digest.TryParse("sha256:" + Path.GetFileName(f), out _), f));

        // A gzip layer that is not gzip fails while it is recompressed: its partial blob goes too.
        byte[] layer = [0x1f, 0x8b, 1, 2, 3];
        byte[] config = System.Text.Encoding.UTF8.GetBytes($"{{\"rootfs\":{{\"type\":\"layers\",\"diff_ids\":[\"{Digest.Compute(layer)}\"]}}}}");
        string failed = _dir.Combine("failed");
        await Assert.ThrowsAsync<OciException>(() => OciImageLayout.ImportDockerArchiveAsync(new MemoryStream(TestArchives.Tar(
            ("l.tar", layer, null), ("c.json", config, null), ("manifest.json", "[{\"Config\":\"c.json\",\"Layers\":[\"l.tar\"]}]"u8.ToArray(), null))), failed, CancellationToken.None));
        Assert.Equal(["blobs"], Directory.GetDirectories(failed).Select(Path.GetFileName));
        Assert.Empty(Directory.GetFiles(Path.Combine(failed, "blobs", "sha256")));
    }
}
