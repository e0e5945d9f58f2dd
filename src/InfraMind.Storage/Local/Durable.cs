using System.Runtime.InteropServices;

namespace InfraMind.Storage;

/// <summary>
/// What makes a rename trustworthy after a crash: the file's bytes on disk before it is renamed (FileStream.Flush(true)
/// is fsync), and the directory that holds the new name on disk after (fsync of the directory itself). .NET has no API
/// for the second — it refuses to open a directory as a file — so it is the one thing here that calls libc directly.
/// </summary>
internal static partial class Durable
{
    /// <summary>Writes <paramref name="bytes"/> to a new file at <paramref name="path"/> and fsyncs it.</summary>
    public static async Task WriteFileAsync(string path, byte[] bytes, CancellationToken cancellationToken)
    {
        var file = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None, 1, FileOptions.Asynchronous);
        await using (file.ConfigureAwait(false))
        {
            await file.WriteAsync(bytes, cancellationToken).ConfigureAwait(false);
            file.Flush(flushToDisk: true);
        }
    }

    /// <summary>fsyncs the directory <paramref name="path"/>, so the names just created or renamed in it survive a crash.</summary>
    public static void FlushDirectory(string path)
    {
        if (OperatingSystem.IsWindows())
        {
            return; // NTFS journals renames; there is no directory handle to flush.
        }

        int fd = Open(path, 0 /* O_RDONLY */);
        if (fd < 0)
        {
            throw new IOException($"cannot open directory {path} to flush it (errno {Marshal.GetLastPInvokeError()})");
        }

        try
        {
            if (Fsync(fd) != 0)
            {
                throw new IOException($"fsync of directory {path} failed (errno {Marshal.GetLastPInvokeError()})");
            }
        }
        finally
        {
            _ = Close(fd);
        }
    }

    [LibraryImport("libc", EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Open(string path, int flags);

    [LibraryImport("libc", EntryPoint = "fsync", SetLastError = true)]
    private static partial int Fsync(int fd);

    [LibraryImport("libc", EntryPoint = "close", SetLastError = true)]
    private static partial int Close(int fd);
}
