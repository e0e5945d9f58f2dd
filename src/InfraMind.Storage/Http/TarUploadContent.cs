using System.Net;
using InfraMind.Oci;

namespace InfraMind.Storage.Http;

/// <summary>
/// An image's layout tar written straight into a request body: no temp file, no pipe, no copy in memory. The PUT
/// declares <paramref name="size"/>, and the reference will name <paramref name="digest"/> (both from a first write
/// of the same deterministic tar), so the bytes are hashed as they go and checked before the chunk holding the last
/// one leaves (<see cref="DigestCheck"/>, as a pull checks what it reads): a tar that came out differently this time is
/// never sent whole (IM4002/IM4003).
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
        private readonly DigestCheck _check = new(expected, size, what, arriving: false);
        private long _reported = Environment.TickCount64;

        public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            // Judged before the bytes leave: the last byte leaves only when the whole matches (a Content-Length body ends with it).
            _check.Append(buffer.Span);
            Written = _check.Count;
            await Inner.WriteAsync(buffer, cancellationToken).ConfigureAwait(false);
            if (progress is not null && Environment.TickCount64 - _reported >= 250)
            {
                _reported = Environment.TickCount64;
                progress.Report(new TransferProgress(what, Written, size, false));
            }
        }

        public void Finish()
        {
            _check.Complete();
            progress?.Report(new TransferProgress(what, Written, size, true));
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing) _check.Dispose();
            base.Dispose(disposing);
        }
    }
}
