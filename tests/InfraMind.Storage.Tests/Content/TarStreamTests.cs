using InfraMind.Oci;
using InfraMind.Testing;

namespace InfraMind.Storage.Tests.Content;

/// <summary>
/// <see cref="ImageArchive.ReadTarAsync{T}"/>, how `infra pull --load` and a node hand an image to docker load: the
/// layout tar written while it is read, never copied whole (LargeImageTests in InfraMind.Cli.Tests measures it on a
/// 192 MiB image).
/// </summary>
public sealed class TarStreamTests : IDisposable
{
    private readonly TempDirectory _dir = new("im-tarstream");

    public void Dispose() => _dir.Dispose();

    [Fact]
    public async Task The_streamed_tar_is_the_deterministic_layout_tar_byte_for_byte()
    {
        var store = new LocalContentStore(_dir.Combine("store"));
        var image = await SmallImage.ImportAsync(store, "stream", layerSize: 6 << 20);
        var written = new MemoryStream();
        await image.WriteTarAsync(written, CancellationToken.None);

        var streamed = await image.ReadTarAsync(async (tar, ct) =>
        {
            Assert.False(tar.CanSeek);
            var copy = new MemoryStream();
            // Small reads: the writer waits for the reader, many times over.
            var buffer = new byte[4096];
            int n;
            while ((n = await tar.ReadAsync(buffer, ct)) > 0) copy.Write(buffer, 0, n);
            return copy.ToArray();
        }, CancellationToken.None);

        Assert.True(written.Length > 6 << 20);
        Assert.Equal(Digest.Compute(written.ToArray()), Digest.Compute(streamed));
    }

    [Fact]
    public async Task A_reader_that_stops_early_stops_the_writer()
    {
        var store = new LocalContentStore(_dir.Combine("early"));
        var image = await SmallImage.ImportAsync(store, "early", layerSize: 8 << 20);
        var first = await image.ReadTarAsync(async (tar, ct) =>
        {
            var buffer = new byte[512];
            await tar.ReadExactlyAsync(buffer, ct);
            return buffer;
        }, CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(30));

        // The first tar header ("blobs/", the layout tar's first entry); the call returned although the writer had
        // 8 MiB more to write than the pipe holds, so the writer was stopped rather than left blocked.
        Assert.Equal("blobs/", System.Text.Encoding.ASCII.GetString(first, 0, 6));
    }

    [Fact]
    public async Task When_the_tar_cannot_be_written_that_failure_is_thrown_not_the_readers()
    {
        var store = new LocalContentStore(_dir.Combine("gone"));
        var image = await SmallImage.ImportAsync(store, "gone", layerSize: 4 << 20);
        // A layer vanished from under the store (removed by hand, a disk fault) after the image was opened.
        File.Delete(store.BlobPath(image.LayerDigests[^1]));

        var e = await Assert.ThrowsAnyAsync<IOException>(() => image.ReadTarAsync<long>(async (tar, ct) =>
        {
            try
            {
                await tar.CopyToAsync(Stream.Null, ct);
                return 0L;
            }
            catch (Exception)
            {
                // What docker load would say of a tar that stopped short.
                throw new InvalidOperationException("unexpected EOF");
            }
        }, CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(30)));
        Assert.Contains(image.LayerDigests[^1].Hex, e.Message, StringComparison.Ordinal);
    }
}
