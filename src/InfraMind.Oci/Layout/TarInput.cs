using System.Buffers;
using System.Formats.Tar;
using System.Security.Cryptography;

namespace InfraMind.Oci.Layout;

/// <summary>
/// Reading tars that strangers made: entries whose headers do not parse become OCI errors, names are normalized
/// (no '.', '..' or leading '/'), and file contents are spooled to disk while they are hashed, in one pass.
/// </summary>
internal static class TarInput
{
    public static async Task<TarEntry?> NextEntryAsync(TarReader reader, string what, ImageInput input, CancellationToken cancellationToken)
    {
        try
        {
            return await reader.GetNextEntryAsync(copyData: false, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is InvalidDataException or FormatException or EndOfStreamException)
        {
            throw new OciException(
                input.InvalidCode(),
                $"the {what} is not a readable tar ({e.Message}); it is truncated or not a tar at all.");
        }
    }

    /// <summary>Counts one more entry of an archive; past <see cref="ArchiveLimits.MaxTarEntries"/> the archive is refused.</summary>
    public static void CountEntry(ref int entries, string what)
    {
        if (++entries > ArchiveLimits.MaxTarEntries)
        {
            throw new OciException(OciErrorCodes.ArchiveLimit, $"the {what} holds more than {ArchiveLimits.MaxTarEntries} entries; no image needs that many.");
        }
    }

    /// <summary>Writes <paramref name="source"/> to a new file at <paramref name="path"/>, returning its digest and size.</summary>
    public static async Task<(Digest Digest, long Size)> SpoolAsync(Stream source, string path, CancellationToken cancellationToken)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        byte[] buffer = ArrayPool<byte>.Shared.Rent(1 << 20);
        long size = 0;
        try
        {
            var target = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None, 1, FileOptions.Asynchronous);
            await using (target.ConfigureAwait(false))
            {
                int read;
                while ((read = await source.ReadAsync(buffer, cancellationToken).ConfigureAwait(false)) > 0)
                {
                    hash.AppendData(buffer, 0, read);
                    await target.WriteAsync(buffer.AsMemory(0, read), cancellationToken).ConfigureAwait(false);
                    size += read;
                }
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }

        return (Digest.FromHash(hash.GetHashAndReset()), size);
    }

    /// <summary>The path a symbolic link in a tar points at, relative to the tar's root.</summary>
    public static string CombineLink(string entryName, string linkName)
    {
        if (linkName.StartsWith('/'))
        {
            return linkName;
        }

        int slash = entryName.LastIndexOf('/');
        return slash < 0 ? linkName : entryName[..(slash + 1)] + linkName;
    }

    public static string NormalizeEntryName(string name)
    {
        var parts = new List<string>();
        foreach (string part in name.Replace('\\', '/').Split('/', StringSplitOptions.RemoveEmptyEntries))
        {
            if (part == ".")
            {
                continue;
            }

            if (part == "..")
            {
                if (parts.Count > 0)
                {
                    parts.RemoveAt(parts.Count - 1);
                }

                continue;
            }

            parts.Add(part);
        }

        return string.Join('/', parts);
    }
}
