using InfraMind.Oci.Layout;

namespace InfraMind.Oci.Tests;

/// <summary>Tests that measure the process's allocations, so nothing else may run beside them.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class AllocationMeasuringCollection
{
    public const string Name = "allocation-measuring";
}

/// <summary>What compressing a layer costs in memory: the same for 128 MiB as for 8, not a multiple of the layer.</summary>
[Collection(AllocationMeasuringCollection.Name)]
public sealed class LayerCompressionMemoryTests(Xunit.Abstractions.ITestOutputHelper log)
{
    /// <summary>
    /// Bytes compressing one layer may allocate whatever its size: the chunk (4 MiB) and member (8 MiB) buffers of
    /// the cores' window, cores + 2 of each at most, first use included, and 32 MiB for the rest. Before, every 4 MiB
    /// chunk of noise allocated ~18 MiB that went to the large object heap as garbage (a MemoryStream doubling from 2 to
    /// 8 MiB, then its copy): 128 MiB of layer allocated 592 MiB here, and an export sat at ~300 MB resident.
    /// </summary>
    private static long MaxAllocatedBytes => ((Environment.ProcessorCount + 2) * (12L << 20)) + (32L << 20);

    [Fact]
    public async Task Compressing_a_128MiB_layer_of_noise_allocates_a_bounded_amount()
    {
        const long size = 128L << 20;
        // Noise: incompressible, the members' worst case; made as it is read and written to a sink that keeps nothing.
        var input = new NoiseStream(size);
        // As in a busy `infra push`, whose thread pool grows while the cores deflate: the chunks are compressed and
        // returned on many threads (a pool that keeps arrays per thread strands one set in each).
        ThreadPool.GetMinThreads(out int workers, out int io);
        ThreadPool.SetMinThreads(Math.Max(workers, 32), io);
        long before = GC.GetTotalAllocatedBytes(precise: true);
        (Digest Compressed, long CompressedSize, Digest Uncompressed, long UncompressedSize) result;
        try
        {
            result = await LayerCompression.GzipAsync(input, Stream.Null, CancellationToken.None);
        }
        finally
        {
            ThreadPool.SetMinThreads(workers, io);
        }

        long allocated = GC.GetTotalAllocatedBytes(precise: true) - before;

        log.WriteLine($"{allocated >> 20} MiB allocated compressing {size >> 20} MiB of noise");
        Assert.Equal(size, result.UncompressedSize);
        Assert.True(result.CompressedSize > size, "noise should not compress");
        Assert.True(allocated < MaxAllocatedBytes, $"{allocated >> 20} MiB allocated compressing {size >> 20} MiB (at most {MaxAllocatedBytes >> 20} MiB)");
    }

    /// <summary>A read-only stream of <paramref name="length"/> pseudo-random bytes, allocating nothing per read.</summary>
    private sealed class NoiseStream(long length) : Stream
    {
        private readonly Random _random = new(42);
        private long _position;

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => length;

        public override long Position { get => _position; set => throw new NotSupportedException(); }

        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

        public override int Read(Span<byte> buffer)
        {
            int n = (int)Math.Min(buffer.Length, length - _position);
            _random.NextBytes(buffer[..n]);
            _position += n;
            return n;
        }

        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) => ValueTask.FromResult(Read(buffer.Span));

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
