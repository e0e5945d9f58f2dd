using System.Buffers;
using System.IO.Compression;
using System.Security.Cryptography;

namespace InfraMind.Oci.Layout;

/// <summary>
/// Writes a layer as deterministic gzip, compressed on all cores: the tar is cut into <see cref="ChunkSize"/> chunks,
/// each chunk is deflated on its own (zlib level <see cref="Level"/>) and written as one gzip member (RFC 1952 §2.2:
/// a gzip file is a series of members), in order. Every header is the same fixed 10 bytes (no name, no comment, mtime
/// 0, XFL 0, OS 255 "unknown", as Go's compress/gzip writes it), so the bytes depend only on the tar and the deflate
/// implementation: the same image gives the same layer digest, and so the same container hash, on every run and
/// machine with the same runtime. Readers of gzip (Go's compress/gzip in docker and containerd, zlib, .NET's
/// GZipStream, gzip(1)) read the members as one stream.
/// </summary>
/// <remarks>
/// Written here rather than taken from a library: .NET's GZipStream is single-threaded and stamps the build OS into
/// the header, and no maintained .NET package does pigz-style parallel gzip. Only the chunking and the header are
/// ours; deflate itself is the runtime's zlib. Cutting at 4 MiB costs about 0.1 % of ratio (deflate's window is
/// 32 KiB, so only the first 32 KiB of each chunk lose their back-references).
/// </remarks>
internal static class LayerCompression
{
    /// <summary>Bytes of the layer tar per gzip member.</summary>
    public const int ChunkSize = 4 << 20;

    /// <summary>zlib level; 6 is gzip's and Go's default, which <c>docker push</c> uses.</summary>
    public const int Level = 6;

    private const byte OsUnknown = 255;

    /// <summary>
    /// Compresses <paramref name="tar"/> into <paramref name="output"/>; returns the digest and size of what was written
    /// and the digest and size of the tar read (the layer's diff_id). At most ProcessorCount + 1 chunks are in memory.
    /// </summary>
    public static async Task<(Digest Compressed, long CompressedSize, Digest Uncompressed, long UncompressedSize)> GzipAsync(
        Stream tar, Stream output, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(tar);
        ArgumentNullException.ThrowIfNull(output);
        using var outHash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        using var inHash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        int window = Environment.ProcessorCount + 1;
        // The chunks' and members' buffers come from a pool of this call's own, at most window + 2 of each size:
        // ArrayPool.Shared keeps one array per size in every thread that returns one, and the compressing tasks run on
        // whichever pool threads there are, so its arrays were stranded in ever more threads as a large layer went by.
        var buffers = ArrayPool<byte>.Create(MaxMemberBytes(ChunkSize), window + 2);
        var pending = new Queue<Task<Member>>();
        long inSize = 0, outSize = 0;
        try
        {
            bool first = true;
            while (true)
            {
                byte[] chunk = buffers.Rent(ChunkSize);
                int n;
                try
                {
                    n = await tar.ReadAtLeastAsync(chunk.AsMemory(0, ChunkSize), ChunkSize, throwOnEndOfStream: false, cancellationToken).ConfigureAwait(false);
                }
                catch
                {
                    buffers.Return(chunk);
                    throw;
                }

                if (n == 0 && !first)
                {
                    buffers.Return(chunk);
                    break;
                }

                first = false;
                inHash.AppendData(chunk, 0, n);
                inSize += n;
                pending.Enqueue(Task.Run(() =>
                {
                    try
                    {
                        return GzipMember(chunk.AsSpan(0, n), buffers);
                    }
                    finally
                    {
                        buffers.Return(chunk);
                    }
                }, CancellationToken.None));
                while (pending.Count >= window)
                {
                    outSize += await WriteNextAsync(pending, output, outHash, cancellationToken).ConfigureAwait(false);
                }

                if (n < ChunkSize)
                {
                    break;
                }
            }

            while (pending.Count > 0)
            {
                outSize += await WriteNextAsync(pending, output, outHash, cancellationToken).ConfigureAwait(false);
            }
        }
        finally
        {
            // On failure, the chunks already started finish before their buffers go back to the pool; the first
            // failure is the one reported.
            await ((Task)Task.WhenAll(pending)).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            foreach (var left in pending)
            {
                if (left.IsCompletedSuccessfully) left.Result.Return();
            }
        }

        return (Digest.FromHash(outHash.GetHashAndReset()), outSize, Digest.FromHash(inHash.GetHashAndReset()), inSize);
    }

    /// <summary>
    /// Bytes a member of <paramref name="length"/> input bytes may take: deflate's worst case (stored blocks) adds 5
    /// bytes per 64 KiB, gzip 18 bytes of header and trailer; an eighth more is far above both.
    /// </summary>
    internal static int MaxMemberBytes(int length) => length + (length >> 3) + 1024;

    /// <summary>
    /// One gzip member holding <paramref name="data"/>, with the fixed header, in a buffer rented from
    /// <paramref name="pool"/> (sized for the worst case, so it never grows): the caller returns it with
    /// <see cref="Member.Return"/>. Each chunk used to cost ~18 MiB of garbage on the large object heap (a stream
    /// doubling from 2 to 8 MiB, then a copy).
    /// </summary>
    internal static Member GzipMember(ReadOnlySpan<byte> data, ArrayPool<byte> pool)
    {
        byte[] buffer = pool.Rent(MaxMemberBytes(data.Length));
        try
        {
            if (data.IsEmpty)
            {
                // GZipStream writes nothing at all for no input; a layer is never empty, but the stream must still be gzip.
                ReadOnlySpan<byte> empty = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, OsUnknown, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0];
                empty.CopyTo(buffer);
                return new Member(buffer, empty.Length, pool);
            }

            // Not expandable: a member larger than the bound would be an error of the bound, never a silent copy.
            using var output = new MemoryStream(buffer, 0, buffer.Length, writable: true);
            using (var gzip = new GZipStream(output, new ZLibCompressionOptions { CompressionLevel = Level, CompressionStrategy = ZLibCompressionStrategy.Default }, leaveOpen: true))
            {
                gzip.Write(data);
            }

            int length = (int)output.Position;
            // zlib writes ID1 ID2 CM FLG MTIME(4) XFL OS; with no name or extra fields FLG is 0. XFL and OS vary with
            // the level and the build platform: both are fixed here (they are informational, RFC 1952 §2.3.1).
            if (length < 18 || buffer[0] != 0x1f || buffer[1] != 0x8b || buffer[2] != 8 || buffer[3] != 0)
            {
                throw new InvalidOperationException("the runtime's GZipStream wrote a header other than RFC 1952's plain one; layers cannot be compressed deterministically.");
            }

            buffer.AsSpan(4, 4).Clear();
            buffer[8] = 0;
            buffer[9] = OsUnknown;
            return new Member(buffer, length, pool);
        }
        catch
        {
            pool.Return(buffer);
            throw;
        }
    }

    /// <summary>A gzip member in a pooled buffer: its first <see cref="Length"/> bytes.</summary>
    internal readonly record struct Member(byte[] Buffer, int Length, ArrayPool<byte> Pool)
    {
        public ReadOnlyMemory<byte> Bytes => Buffer.AsMemory(0, Length);

        public void Return() => Pool.Return(Buffer);
    }

    private static async Task<long> WriteNextAsync(Queue<Task<Member>> pending, Stream output, IncrementalHash hash, CancellationToken cancellationToken)
    {
        var member = await pending.Peek().ConfigureAwait(false);
        _ = pending.Dequeue();
        try
        {
            hash.AppendData(member.Buffer, 0, member.Length);
            await output.WriteAsync(member.Bytes, cancellationToken).ConfigureAwait(false);
            return member.Length;
        }
        finally
        {
            member.Return();
        }
    }
}
