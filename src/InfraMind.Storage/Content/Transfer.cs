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

/// <summary>
/// A destination that takes at most <paramref name="cap"/> bytes: the byte cap of a fetch (<see cref="FetchPolicy.MaxImageBytes"/>)
/// counted while content streams, for sources that do not declare their size or may lie about it. One byte more is
/// IM4214, before it is written.
/// </summary>
internal sealed class CappedWriteStream(Stream inner, long cap, string what) : Oci.WriteOnlyStream(inner)
{
    public static StorageException TooLarge(string what, long cap, long? declared = null) =>
        new(StorageErrorCodes.TooLarge, declared is { } d
            ? $"{what} declares {d} bytes, more than the {cap} bytes this fetch may take; nothing was fetched."
            : $"{what} sent more than the {cap} bytes this fetch may take; the transfer was stopped and nothing was kept.");

    public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        if (Written + buffer.Length > cap)
        {
            throw TooLarge(what, cap);
        }

        Written += buffer.Length;
        return Inner.WriteAsync(buffer, cancellationToken);
    }
}
