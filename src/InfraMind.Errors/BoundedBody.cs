using System.Buffers;

namespace InfraMind;

/// <summary>
/// Reads a body that a stranger controls (a request, a peer's answer, a helper's output, a file a user names) without
/// ever holding more than the limit: the one bounded reader; each caller turns a null into its own error.
/// </summary>
public static class BoundedBody
{
    /// <summary>What is allocated up front at most, whatever length a sender declares: the buffer grows with what arrives.</summary>
    internal const int InitialCapacity = 64 * 1024;

    private const int ChunkSize = 16 * 1024;

    /// <summary>
    /// The whole stream, or null when it is longer than <paramref name="max"/> (a declared <paramref name="length"/> over
    /// it is not read at all). Never allocates what a declared length merely claims: a sender that declares 16 MB and
    /// sends nothing costs <see cref="InitialCapacity"/> bytes, not 16 MB.
    /// </summary>
    public static async Task<byte[]?> ReadAsync(Stream stream, long? length, long max, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(stream);
        if (length > max) return null;
        using var buffer = new MemoryStream((int)Math.Min(length ?? 0, InitialCapacity));
        var chunk = ArrayPool<byte>.Shared.Rent(ChunkSize);
        try
        {
            int read;
            while ((read = await stream.ReadAsync(chunk.AsMemory(0, ChunkSize), cancellationToken).ConfigureAwait(false)) > 0)
            {
                // The server's framing ends a body at its declared length; without one, the limit does.
                if (buffer.Length + read > max) return null;
                buffer.Write(chunk, 0, read);
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(chunk);
        }

        return buffer.ToArray();
    }

    /// <summary>
    /// The bytes of the file at <paramref name="path"/>, or null when it holds more than <paramref name="max"/>: read
    /// with the bound, never by the length the file reports, as a device or a pipe (<c>&lt;(…)</c>) reports none and
    /// /dev/zero never ends (read whole, it ran the process out of memory). Not for secrets: the growing buffer leaves
    /// copies it does not clear.
    /// </summary>
    public static byte[]? ReadFile(string path, long max)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1, FileOptions.SequentialScan);
        using var buffer = new MemoryStream((int)Math.Min(max, InitialCapacity));
        var chunk = ArrayPool<byte>.Shared.Rent(ChunkSize);
        try
        {
            int read;
            while ((read = stream.Read(chunk, 0, ChunkSize)) > 0)
            {
                if (buffer.Length + read > max) return null;
                buffer.Write(chunk, 0, read);
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(chunk);
        }

        return buffer.ToArray();
    }

    /// <summary>
    /// The UTF-8 text of the file at <paramref name="path"/>, a leading byte-order mark dropped, or null when it holds
    /// more than <paramref name="max"/> bytes (<see cref="ReadFile"/>).
    /// </summary>
    public static string? ReadText(string path, long max) =>
        ReadFile(path, max) is { } bytes ? System.Text.Encoding.UTF8.GetString(bytes).TrimStart('\uFEFF') : null;

    /// <summary>
    /// The length of the file at <paramref name="path"/>, or of what it names when it is a link: a link's own length
    /// (9 bytes for one to /dev/zero) would let a device be read without end. A FIFO or a device reports 0, and opening a
    /// FIFO blocks: a caller that looks before it reads refuses 0 unread.
    /// </summary>
    public static long TargetLength(string path)
    {
        var info = new FileInfo(path);
        return (info.ResolveLinkTarget(returnFinalTarget: true) as FileInfo ?? info).Length;
    }
}
