using System.Buffers;
using System.IO.Compression;
using System.Security.Cryptography;
using ZstdSharp;

namespace InfraMind.Oci.Layout;

/// <summary>
/// Reads what is inside a layer blob: its tar, decompressed as the media type says (plain, gzip or zstd), hashed
/// against the image config's diff_id. A compressed layer from a stranger may be a decompression bomb (a few MB that
/// inflate to terabytes), so every read counts DECOMPRESSED bytes and stops at
/// <see cref="ArchiveLimits.MaxDecompressedLayerBytes"/> (IM4012), with one fixed buffer: memory does not grow with
/// the layer, and time grows only with bytes the sender actually sent.
/// </summary>
internal static class LayerContent
{
    public static bool IsGzip(string mediaType) => mediaType is MediaTypes.OciLayerTarGzip or MediaTypes.DockerLayerTarGzip;

    public static bool IsZstd(string mediaType) => mediaType == MediaTypes.OciLayerTarZstd;

    public static bool IsPlain(string mediaType) => mediaType is MediaTypes.OciLayerTar or MediaTypes.DockerLayerTar;

    /// <summary>
    /// A stream of the layer's tar: <paramref name="blob"/> decompressed per <paramref name="mediaType"/>, refusing to
    /// give more than <see cref="ArchiveLimits.MaxDecompressedLayerBytes"/> of <paramref name="compressedSize"/>.
    /// </summary>
    public static Stream OpenTar(Stream blob, string mediaType, long compressedSize, string where)
    {
        ArgumentNullException.ThrowIfNull(blob);
        Stream inner = IsGzip(mediaType) ? new GZipStream(blob, CompressionMode.Decompress, leaveOpen: false)
            // zstd's default window limit (2^27 bytes) stays: a frame asking for a larger window is refused, so a
            // stranger cannot make the decoder allocate gigabytes.
            : IsZstd(mediaType) ? new DecompressionStream(blob, leaveOpen: false)
            : blob;
        return new BoundedLayerStream(inner, mediaType, ArchiveLimits.MaxDecompressedLayerBytes(compressedSize), where);
    }

    /// <summary>
    /// Decompresses the layer at <paramref name="path"/> and returns the digest of its tar (what the image config's
    /// diff_id must be); content that does not decompress as its media type says is IM4013, a bomb IM4012.
    /// </summary>
    public static async Task<Digest> TarDigestAsync(string path, Descriptor layer, string where, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(layer);
        var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, FileOptions.Asynchronous | FileOptions.SequentialScan);
        var tar = OpenTar(file, layer.MediaType, layer.Size, where);
        await using (tar.ConfigureAwait(false))
        {
            using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
            byte[] buffer = ArrayPool<byte>.Shared.Rent(1 << 20);
            try
            {
                int n;
                while ((n = await tar.ReadAsync(buffer, cancellationToken).ConfigureAwait(false)) > 0)
                {
                    hash.AppendData(buffer, 0, n);
                }
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(buffer);
            }

            return Digest.FromHash(hash.GetHashAndReset());
        }
    }

    public static OciException Mismatch(string where, Descriptor layer, string diffId, Digest actual) => new(
        OciErrorCodes.LayerMismatch,
        $"{where} ({layer.Digest}, {layer.MediaType}) {(IsPlain(layer.MediaType) ? "hashes" : "decompresses")} to {actual} but the image config says its diff_id is {diffId}; the layer and the config do not belong together.");

    /// <summary>Counts the decompressed bytes and turns decoder failures into IM4013.</summary>
    private sealed class BoundedLayerStream(Stream inner, string mediaType, long max, string where) : ReadOnlyStream
    {
        private long _read;

        public override long Position => _read;

        public override int Read(Span<byte> buffer)
        {
            try
            {
                return Count(inner.Read(buffer));
            }
            catch (Exception e) when (e is InvalidDataException or ZstdException or EndOfStreamException)
            {
                throw Corrupt(e);
            }
        }

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            try
            {
                return Count(await inner.ReadAsync(buffer, cancellationToken).ConfigureAwait(false));
            }
            catch (Exception e) when (e is InvalidDataException or ZstdException or EndOfStreamException)
            {
                throw Corrupt(e);
            }
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                inner.Dispose();
            }

            base.Dispose(disposing);
        }

        public override async ValueTask DisposeAsync()
        {
            await inner.DisposeAsync().ConfigureAwait(false);
            await base.DisposeAsync().ConfigureAwait(false);
        }

        private int Count(int n)
        {
            _read += n;
            if (_read > max)
            {
                throw new OciException(
                    OciErrorCodes.ArchiveLimit,
                    $"{where} ({mediaType}) decompresses to more than {max} bytes, over {ArchiveLimits.MaxLayerExpansion} times its compressed size " +
                    $"(and over {ArchiveLimits.MinDecompressedLayerAllowance} bytes): it looks like a decompression bomb, and reading stopped there.");
            }

            return n;
        }

        private OciException Corrupt(Exception e) =>
            new(OciErrorCodes.LayerMismatch, $"{where} does not decompress as its media type {mediaType} says ({e.Message}); the layer is corrupt or mislabelled.", e);
    }
}
