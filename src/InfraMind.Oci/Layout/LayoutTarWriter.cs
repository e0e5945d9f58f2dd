using System.Formats.Tar;
using System.Text;

namespace InfraMind.Oci.Layout;

/// <summary>
/// Writes a layout as a deterministic tar: entries sorted by path, mtime 0, uid/gid 0, no user names, modes
/// 0755/0644, ustar headers (PAX only for a blob of 8 GiB or more, which ustar cannot describe).
/// </summary>
internal static class LayoutTarWriter
{
    private const UnixFileMode DirectoryMode =
        UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute |
        UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute;

    private const UnixFileMode FileMode644 = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead;

    public static async Task WriteAsync(OciLayout layout, Stream output, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(layout);
        ArgumentNullException.ThrowIfNull(output);
        var blobs = new SortedSet<string>(StringComparer.Ordinal);
        foreach (var image in layout.Images)
        {
            blobs.Add(image.Manifest.Digest.Hex);
            blobs.Add(image.Config.Digest.Hex);
            foreach (var layer in image.Layers)
            {
                blobs.Add(layer.Digest.Hex);
            }
        }

        await using var writer = new TarWriter(output, TarEntryFormat.Ustar, leaveOpen: true);
        await WriteDirectoryAsync(writer, "blobs/", cancellationToken).ConfigureAwait(false);
        await WriteDirectoryAsync(writer, "blobs/sha256/", cancellationToken).ConfigureAwait(false);
        foreach (string hex in blobs)
        {
            var file = new FileStream(Path.Combine(layout.Directory, "blobs", "sha256", hex), FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, FileOptions.Asynchronous | FileOptions.SequentialScan);
            await using (file.ConfigureAwait(false))
            {
                await WriteFileAsync(writer, "blobs/sha256/" + hex, file, cancellationToken).ConfigureAwait(false);
            }
        }

        // Besides the OCI files the tar holds the legacy manifest.json and repositories that pre-25 engines need.
        await WriteBytesAsync(writer, "index.json", LayoutDocuments.BuildIndex(layout.Images.Select(i => i.Manifest)), cancellationToken).ConfigureAwait(false);
        await WriteBytesAsync(writer, "manifest.json", LayoutDocuments.BuildDockerManifest(layout.Images), cancellationToken).ConfigureAwait(false);
        await WriteBytesAsync(writer, "oci-layout", Encoding.UTF8.GetBytes(LayoutDocuments.LayoutFileContent), cancellationToken).ConfigureAwait(false);
        await WriteBytesAsync(writer, "repositories", LayoutDocuments.BuildRepositories(layout.Images), cancellationToken).ConfigureAwait(false);
    }

    private static async Task WriteDirectoryAsync(TarWriter writer, string name, CancellationToken cancellationToken)
    {
        var entry = new UstarTarEntry(TarEntryType.Directory, name);
        Normalize(entry, DirectoryMode);
        await writer.WriteEntryAsync(entry, cancellationToken).ConfigureAwait(false);
    }

    private static Task WriteBytesAsync(TarWriter writer, string name, byte[] content, CancellationToken cancellationToken) =>
        WriteFileAsync(writer, name, new MemoryStream(content, writable: false), cancellationToken);

    private static async Task WriteFileAsync(TarWriter writer, string name, Stream content, CancellationToken cancellationToken)
    {
        // Ustar's size field holds 11 octal digits (< 8 GiB); only a larger blob needs a PAX header to carry its size.
        PosixTarEntry entry = content.Length < (1L << 33)
            ? new UstarTarEntry(TarEntryType.RegularFile, name)
            : new PaxTarEntry(TarEntryType.RegularFile, name);
        Normalize(entry, FileMode644);
        entry.DataStream = content;
        await writer.WriteEntryAsync(entry, cancellationToken).ConfigureAwait(false);
    }

    private static void Normalize(PosixTarEntry entry, UnixFileMode mode)
    {
        entry.Mode = mode;
        entry.ModificationTime = DateTimeOffset.UnixEpoch;
        entry.Uid = 0;
        entry.Gid = 0;
        entry.UserName = string.Empty;
        entry.GroupName = string.Empty;
    }
}
