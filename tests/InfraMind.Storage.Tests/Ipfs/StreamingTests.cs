using InfraMind.Storage.Ipfs;

namespace InfraMind.Storage.Tests.Ipfs;

public sealed class StreamingTests
{
    [Fact]
    public async Task One_GiB_from_a_non_seekable_stream_imports_with_bounded_allocation()
    {
        const long size = 1L << 30;
        var source = new PatternStream(size);
        // PatternStream completes synchronously, so the whole import runs on this thread and the per-thread
        // counter sees every allocation it makes (and none of other tests running in parallel).
        long before = GC.GetAllocatedBytesForCurrentThread();
        var result = await UnixFsImporter.ComputeAsync(source, UnixFsOptions.KuboCidV1, CancellationToken.None);
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.Equal(size, result.FileSize);
        Assert.Equal(size, source.Position);
        Assert.Equal(4096 + 24 + 1, result.BlockCount); // 4096 leaves, ceil(4096/174) = 24 parents, 1 root
        Assert.True(allocated < 8L << 20, $"importing 1 GiB allocated {allocated >> 20} MiB; it should keep only the tree frontier");
    }

    [Fact]
    public async Task A_deep_tree_keeps_a_frontier_of_at_most_max_links_per_level()
    {
        // 4-byte chunks and 3 links per node give a tree 10 levels deep over 100 KB; the blocks stream out as soon
        // as a node is full, so at most MaxLinks blocks per level are ever waiting for a parent.
        var options = UnixFsOptions.KuboDefault with { ChunkSize = 4, MaxLinks = 3 };
        int emitted = 0, maxWaiting = 0;
        var waiting = new HashSet<Cid>();
        var result = await UnixFsImporter.ImportAsync(
            new PatternStream(100_000),
            options,
            (block, _) =>
            {
                emitted++;
                foreach (var child in LinksOf(block.Data.Span))
                {
                    Assert.True(waiting.Remove(child), "a parent links a block that was not emitted before it");
                }

                waiting.Add(block.Cid);
                maxWaiting = Math.Max(maxWaiting, waiting.Count);
                return ValueTask.CompletedTask;
            },
            CancellationToken.None);
        Assert.Equal(emitted, result.BlockCount);
        Assert.Equal(100_000, result.FileSize);
        Assert.Equal([result.Root], waiting);
        int depth = (int)Math.Ceiling(Math.Log(25_000) / Math.Log(3));
        Assert.Equal(10, depth);
        Assert.InRange(maxWaiting, depth, options.MaxLinks * depth);
    }

    [Fact]
    public async Task Cancellation_stops_the_import()
    {
        using var cts = new CancellationTokenSource();
        await cts.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() =>
            UnixFsImporter.ComputeAsync(new PatternStream(1 << 20), UnixFsOptions.KuboDefault, cts.Token));
    }

    /// <summary>The CIDs of a dag-pb block's links (PBNode field 2 → PBLink field 1).</summary>
    private static List<Cid> LinksOf(ReadOnlySpan<byte> block)
    {
        var links = new List<Cid>();
        int i = 0;
        while (i < block.Length)
        {
            byte tag = block[i++];
            int length = ReadVarint(block, ref i);
            if (tag == 0x12)
            {
                var link = block.Slice(i, length);
                int j = 0;
                Assert.Equal(0x0a, link[j++]);
                int hashLength = ReadVarint(link, ref j);
                links.Add(Cid.FromBytes(link.Slice(j, hashLength)));
            }

            i += length;
        }

        return links;
    }

    private static int ReadVarint(ReadOnlySpan<byte> data, ref int i)
    {
        int value = 0;
        for (int shift = 0; ; shift += 7)
        {
            byte b = data[i++];
            value |= (b & 0x7f) << shift;
            if (b < 0x80)
            {
                return value;
            }
        }
    }

    /// <summary>A forward-only stream of <c>length</c> pattern bytes, never buffered anywhere.</summary>
    private sealed class PatternStream(long length) : Stream
    {
        private long _position;

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => throw new NotSupportedException();

        public override long Position
        {
            get => _position;
            set => throw new NotSupportedException();
        }

        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

        public override int Read(Span<byte> buffer)
        {
            int n = (int)Math.Min(buffer.Length, length - _position);
            buffer[..n].Fill((byte)(_position * 31 >> 3));

            _position += n;
            return n;
        }

        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            cancellationToken.ThrowIfCancellationRequested();
            return ValueTask.FromResult(Read(buffer.Span));
        }

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
