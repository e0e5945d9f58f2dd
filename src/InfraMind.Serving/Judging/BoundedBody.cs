namespace InfraMind.Serving;

/// <summary>Reads a body that a stranger controls without ever holding more than the limit.</summary>
public static class BoundedBody
{
    /// <summary>The whole stream, or null when it is longer than <paramref name="max"/>. A declared length is read into one exact array.</summary>
    public static async Task<byte[]?> ReadAsync(Stream stream, long? length, long max, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(stream);
        if (length is { } declared)
        {
            if (declared > max) return null;
            var exact = new byte[declared];
            await stream.ReadExactlyAsync(exact, cancellationToken).ConfigureAwait(false);
            // Anything after the declared length would be a protocol error; the server's framing stops it first.
            return exact;
        }

        using var buffer = new MemoryStream();
        var chunk = new byte[16384];
        int read;
        while ((read = await stream.ReadAsync(chunk, cancellationToken).ConfigureAwait(false)) > 0)
        {
            if (buffer.Length + read > max) return null;
            buffer.Write(chunk, 0, read);
        }

        return buffer.ToArray();
    }
}
