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
        var pending = new Queue<Task<byte[]>>();
        long inSize = 0, outSize = 0;
        try
        {
            bool first = true;
            while (true)
            {
                byte[] chunk = ArrayPool<byte>.Shared.Rent(ChunkSize);
                int n;
                try
                {
                    n = await tar.ReadAtLeastAsync(chunk.AsMemory(0, ChunkSize), ChunkSize, throwOnEndOfStream: false, cancellationToken).ConfigureAwait(false);
                }
                catch
                {
                    ArrayPool<byte>.Shared.Return(chunk);
                    throw;
                }

                if (n == 0 && !first)
                {
                    ArrayPool<byte>.Shared.Return(chunk);
                    break;
                }

                first = false;
                inHash.AppendData(chunk, 0, n);
                inSize += n;
                pending.Enqueue(Task.Run(() =>
                {
                    try
                    {
                        return GzipMember(chunk.AsSpan(0, n));
                    }
                    finally
                    {
                        ArrayPool<byte>.Shared.Return(chunk);
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
        }

        return (Digest.FromHash(outHash.GetHashAndReset()), outSize, Digest.FromHash(inHash.GetHashAndReset()), inSize);
    }

    /// <summary>One gzip member holding <paramref name="data"/>, with the fixed header.</summary>
    internal static byte[] GzipMember(ReadOnlySpan<byte> data)
    {
        if (data.IsEmpty)
        {
            // GZipStream writes nothing at all for no input; a layer is never empty, but the stream must still be gzip.
            return [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, OsUnknown, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0];
        }

        using var buffer = new MemoryStream((data.Length / 2) + 64);
        using (var gzip = new GZipStream(buffer, new ZLibCompressionOptions { CompressionLevel = Level, CompressionStrategy = ZLibCompressionStrategy.Default }, leaveOpen: true))
        {
            gzip.Write(data);
        }

        byte[] member = buffer.ToArray();
        // zlib writes ID1 ID2 CM FLG MTIME(4) XFL OS; with no name or extra fields FLG is 0. XFL and OS vary with
        // the level and the build platform: both are fixed here (they are informational, RFC 1952 §2.3.1).
        if (member.Length < 18 || member[0] != 0x1f || member[1] != 0x8b || member[2] != 8 || member[3] != 0)
        {
            throw new InvalidOperationException("the runtime's GZipStream wrote a header other than RFC 1952's plain one; layers cannot be compressed deterministically.");
        }

        member.AsSpan(4, 4).Clear();
        member[8] = 0;
        member[9] = OsUnknown;
        return member;
    }

    private static async Task<long> WriteNextAsync(Queue<Task<byte[]>> pending, Stream output, IncrementalHash hash, CancellationToken cancellationToken)
    {
        byte[] member = await pending.Peek().ConfigureAwait(false);
        _ = pending.Dequeue();
        hash.AppendData(member);
        await output.WriteAsync(member, cancellationToken).ConfigureAwait(false);
        return member.Length;
    }
}
