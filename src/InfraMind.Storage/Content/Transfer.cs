using System.Buffers;
using System.Net;

namespace InfraMind.Storage;

/// <summary>Copying content between streams with progress reports, the one loop every upload and download uses.</summary>
internal static class Transfer
{
    private const int BufferSize = 1 << 20;

    /// <summary>Copies with progress every ~250 ms and at the end.</summary>
    public static async Task<long> CopyAsync(Stream source, Stream target, string what, long? total, IProgress<TransferProgress>? progress, CancellationToken cancellationToken)
    {
        byte[] buffer = ArrayPool<byte>.Shared.Rent(BufferSize);
        long done = 0;
        long lastReport = Environment.TickCount64;
        progress?.Report(new TransferProgress(what, 0, total, false));
        try
        {
            int read;
            while ((read = await source.ReadAsync(buffer.AsMemory(0, BufferSize), cancellationToken).ConfigureAwait(false)) > 0)
            {
                await target.WriteAsync(buffer.AsMemory(0, read), cancellationToken).ConfigureAwait(false);
                done += read;
                if (progress is not null && Environment.TickCount64 - lastReport >= 250)
                {
                    lastReport = Environment.TickCount64;
                    progress.Report(new TransferProgress(what, done, total, false));
                }
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }

        progress?.Report(new TransferProgress(what, done, total, true));
        return done;
    }
}

/// <summary>A request body read from a stream with a known length, reporting progress as it goes.</summary>
internal sealed class ProgressContent(Stream content, long length, string what, IProgress<TransferProgress>? progress) : HttpContent
{
    protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context, CancellationToken cancellationToken) =>
        await Transfer.CopyAsync(content, stream, what, length, progress, cancellationToken).ConfigureAwait(false);

    protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context) =>
        SerializeToStreamAsync(stream, context, CancellationToken.None);

    protected override bool TryComputeLength(out long length1)
    {
        length1 = length;
        return true;
    }
}
