using System.Net;
using System.Security.Cryptography;
using InfraMind.Oci;

namespace InfraMind.Storage.Http;

/// <summary>
/// An image's layout tar written straight into a request body: no temp file, no pipe, no copy in memory. The PUT
/// declares <paramref name="size"/>, and the reference will name <paramref name="digest"/> (both from a first write
/// of the same deterministic tar), so the bytes are hashed as they go and checked before the chunk holding the last
/// one leaves: a tar that came out differently this time is never sent whole (IM4002/IM4003). Hand-written because
/// <see cref="DigestVerifyingStream"/> checks what is read, and here the tar writer pushes.
/// </summary>
internal sealed class TarUploadContent(ImageArchive image, Digest digest, long size, string what, IProgress<TransferProgress>? progress) : HttpContent
{
    /// <summary>True once every byte was written and matched: a server that answered before is holding less.</summary>
    public bool Sent { get; private set; }

    protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context, CancellationToken cancellationToken)
    {
        using var checking = new CheckingStream(stream, digest, size, what, progress);
        await image.WriteTarAsync(checking, cancellationToken).ConfigureAwait(false);
        checking.Finish();
        Sent = true;
    }

    protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context) =>
        SerializeToStreamAsync(stream, context, CancellationToken.None);

    protected override bool TryComputeLength(out long length)
    {
        length = size;
        return true;
    }

    private sealed class CheckingStream(Stream inner, Digest expected, long size, string what, IProgress<TransferProgress>? progress) : WriteOnlyStream(inner)
    {
        private readonly IncrementalHash _hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        private long _reported = Environment.TickCount64;

        public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            if (buffer.Length == 0) return;
            if (Written + buffer.Length > size)
            {
                throw new OciException(OciErrorCodes.SizeMismatch, $"{what} should be {size} bytes but more came out; it is not the tar whose digest was taken ({expected}).");
            }

            _hash.AppendData(buffer.Span);
            Written += buffer.Length;
            // The last byte leaves only when the whole matches: a Content-Length body ends with it.
            if (Written == size) Verify();
            await Inner.WriteAsync(buffer, cancellationToken).ConfigureAwait(false);
            if (progress is not null && Environment.TickCount64 - _reported >= 250)
            {
                _reported = Environment.TickCount64;
                progress.Report(new TransferProgress(what, Written, size, false));
            }
        }

        public void Finish()
        {
            if (Written != size)
            {
                throw new OciException(OciErrorCodes.SizeMismatch, $"{what} should be {size} bytes but ended after {Written}; it is not the tar whose digest was taken ({expected}).");
            }

            progress?.Report(new TransferProgress(what, Written, size, true));
        }

        private void Verify()
        {
            var actual = Digest.FromHash(_hash.GetHashAndReset());
            if (actual != expected) throw new DigestMismatchException(expected, actual, what);
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing) _hash.Dispose();
            base.Dispose(disposing);
        }
    }
}
