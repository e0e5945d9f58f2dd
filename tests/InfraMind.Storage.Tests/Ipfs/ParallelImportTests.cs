using InfraMind.Storage.Ipfs;

namespace InfraMind.Storage.Tests.Ipfs;

/// <summary>
/// The parallel importer (leaves hashed in batches, linked in order) against the sequential one, around every
/// boundary that matters: empty, one byte, a chunk, a batch of chunks, one more byte, several batches, a parent
/// level's worth of links; CIDv0 and v1, raw leaves, a small chunker and a wrapping directory. (PeerCrossCheckTests
/// check the sequential importer against kubo's reference implementations.)
/// </summary>
public sealed class ParallelImportTests
{
    public static TheoryData<string> Settings => new() { "v0", "v1", "v0-raw", "small", "small-raw-v1", "wrap" };

    private static UnixFsOptions Options(string name) => name switch
    {
        "v0" => UnixFsOptions.KuboDefault,
        "v1" => UnixFsOptions.KuboCidV1,
        "v0-raw" => new UnixFsOptions { RawLeaves = true },
        "small" => new UnixFsOptions { ChunkSize = 1024, MaxLinks = 8 },
        "small-raw-v1" => new UnixFsOptions { ChunkSize = 1000, MaxLinks = 3, CidVersion = 1, RawLeaves = true },
        "wrap" => new UnixFsOptions { WrapName = "image.tar" },
        _ => throw new ArgumentOutOfRangeException(nameof(name)),
    };

    [Theory]
    [MemberData(nameof(Settings))]
    public async Task Gives_the_sequential_importers_result_at_every_boundary(string setting)
    {
        var options = Options(setting);
        int chunk = options.ChunkSize;
        int batch = UnixFsImporter.LeafBatch * chunk;
        long[] sizes = [0, 1, chunk - 1, chunk, chunk + 1, batch - 1, batch, batch + 1, 2 * batch, (3 * batch) + 7, (long)chunk * options.MaxLinks * 3 + 1];
        var random = new Random(20261130);
        foreach (var size in sizes.Where(s => s <= 12 << 20).Distinct())
        {
            var data = new byte[size];
            random.NextBytes(data);
            var parallel = await UnixFsImporter.ComputeAsync(new MemoryStream(data), options, CancellationToken.None);
            var sequential = await UnixFsImporter.ComputeSequentialAsync(new MemoryStream(data), options, CancellationToken.None);
            Assert.True(sequential == parallel, $"{setting}, {size} bytes: parallel {parallel}, sequential {sequential}");
        }
    }

    [Fact]
    public async Task A_stream_that_hands_out_a_few_bytes_per_read_gives_the_same_cid()
    {
        var data = new byte[(UnixFsImporter.LeafBatch * UnixFsOptions.DefaultChunkSize) + 12345];
        new Random(7).NextBytes(data);
        var expected = await UnixFsImporter.ComputeSequentialAsync(new MemoryStream(data), UnixFsOptions.KuboDefault, CancellationToken.None);
        var trickled = await UnixFsImporter.ComputeAsync(new TrickleStream(data, 4093), UnixFsOptions.KuboDefault, CancellationToken.None);
        Assert.Equal(expected, trickled);
    }

    private sealed class TrickleStream(byte[] data, int most) : Stream
    {
        private int _at;

        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => _at; set => throw new NotSupportedException(); }

        public override int Read(byte[] buffer, int offset, int count)
        {
            int n = Math.Min(Math.Min(count, most), data.Length - _at);
            Array.Copy(data, _at, buffer, offset, n);
            _at += n;
            return n;
        }

        public override void Flush() { }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
