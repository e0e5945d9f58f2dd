using System.Text;
using InfraMind.Oci.Layout;
using InfraMind.Testing;

namespace InfraMind.Oci.Tests;

/// <summary>
/// The documents we write, byte for byte (their digests are the container hashes), and what the extractor leaves
/// behind and passes over.
/// </summary>
public sealed class LayoutDocumentsTests : IDisposable
{
    private const string Sha = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    private readonly TempDirectory _dir = new("im-oci-documents");

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void A_manifest_and_an_index_are_written_byte_for_byte_the_same_every_time()
    {
        var digest = Digest.Parse(Sha);
        var config = new Descriptor(MediaTypes.OciConfig, digest, 2);
        var layer = new Descriptor(MediaTypes.OciLayerTarGzip, digest, 3);
        Assert.Equal(
            "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\"," +
            $"\"config\":{{\"mediaType\":\"application/vnd.oci.image.config.v1+json\",\"digest\":\"{Sha}\",\"size\":2}}," +
            $"\"layers\":[{{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar+gzip\",\"digest\":\"{Sha}\",\"size\":3}}]}}",
            Encoding.UTF8.GetString(LayoutDocuments.BuildManifest(config, [layer])));
        var named = new Descriptor(MediaTypes.OciManifest, digest, 9, LayoutDocuments.NameAnnotations("demo/m:1.0"));
        Assert.Equal(
            "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.index.v1+json\",\"manifests\":[" +
            $"{{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"digest\":\"{Sha}\",\"size\":9," +
            "\"annotations\":{\"io.containerd.image.name\":\"demo/m:1.0\",\"org.opencontainers.image.ref.name\":\"1.0\"}}]}",
            Encoding.UTF8.GetString(LayoutDocuments.BuildIndex([named])));
        Assert.Equal("{\"imageLayoutVersion\":\"1.0.0\"}", LayoutDocuments.LayoutFileContent);
        Assert.Null(LayoutDocuments.NameAnnotations(null));
    }

    [Fact]
    public async Task A_blob_of_a_layout_tar_that_does_not_match_its_name_leaves_no_partial_file()
    {
        var parts = new LayoutParts();
        string victim = "blobs/sha256/" + Digest.Compute(parts.ConfigBytes).Hex;
        var tar = TestArchives.Tar([.. TestArchives.ReadTar(parts.Tar()).Select(e =>
            (e.Entry.Name, (byte[]?)(e.Entry.Name == victim ? [.. e.Content, 0x20] : e.Content), (string?)null))]);
        string dir = _dir.Combine("partial");
        var e = await Assert.ThrowsAsync<DigestMismatchException>(() => OciImageLayout.ExtractAsync(new MemoryStream(tar), dir, CancellationToken.None));
        Assert.Equal($"blob '{victim}' of the layout tar does not match its digest", e.Message[..e.Message.IndexOf(" (", StringComparison.Ordinal)]);
        Assert.DoesNotContain(Directory.GetFiles(Path.Combine(dir, "blobs", "sha256")), f => f.EndsWith(".partial", StringComparison.Ordinal));
    }

    [Fact]
    public void The_wrapper_streams_are_one_way_and_never_seek()
    {
        using var read = new DigestVerifyingStream(new MemoryStream(), Digest.Parse(Sha));
        Assert.True(read.CanRead);
        Assert.False(read.CanWrite);
        Assert.False(read.CanSeek);
        Assert.Throws<NotSupportedException>(() => read.Seek(0, SeekOrigin.Begin));
        Assert.Throws<NotSupportedException>(() => read.Write([1], 0, 1));
        Assert.Throws<NotSupportedException>(() => read.SetLength(1));

        using var sink = new DigestSink();
        Assert.False(sink.CanRead);
        Assert.True(sink.CanWrite);
        Assert.False(sink.CanSeek);
        sink.Write([1, 2, 3], 0, 3);
        Assert.Equal(3, sink.Length);
        Assert.Equal(3, sink.Position);
        Assert.Throws<NotSupportedException>(() => sink.Position = 0);
        Assert.Throws<NotSupportedException>(() => sink.Read(new byte[1], 0, 1));
    }

    [Theory]
    [InlineData(false, 1)]
    [InlineData(false, 3)]
    [InlineData(true, 1)]
    [InlineData(true, 1000)]
    public async Task A_sniffed_prefix_is_read_before_the_rest_in_any_buffer_size(bool async, int bufferSize)
    {
        byte[] all = "0123456789abcdefghij"u8.ToArray();
        using var stream = new PrefixedStream(all.AsMemory(0, 5), new MemoryStream(all, 5, all.Length - 5));
        var back = new MemoryStream();
        byte[] buffer = new byte[bufferSize];
        int n;
        while ((n = async ? await stream.ReadAsync(buffer) : stream.Read(buffer, 0, buffer.Length)) > 0)
        {
            back.Write(buffer, 0, n);
        }

        Assert.Equal(all, back.ToArray());
    }
}
