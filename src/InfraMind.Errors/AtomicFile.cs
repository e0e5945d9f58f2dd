using System.Runtime.InteropServices;

namespace InfraMind;

/// <summary>
/// How InfraMind keeps a file that must never be seen half written, nor made twice: a node's credential, a gateway's
/// node bindings and node token, a TLS key, a signing key. Written to a file of its own beside it with its final mode
/// from the first byte (owner-only unless told otherwise: a secret is never readable by others, not even before a
/// chmod), flushed to disk, then moved into place, and the directory flushed after the move: a crash leaves the old
/// content or the new, never half, never an empty file where a secret should be, and once a write has returned, never
/// the old (a key or a pin that came back as it was before the crash is a key lost, a pin rolled back). A directory
/// made here is owner-only (0700); one that exists is left as its owner set it.
/// </summary>
public static class AtomicFile
{
    /// <summary>0600: the owner reads and writes, nobody else.</summary>
    public const UnixFileMode OwnerOnly = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    /// <summary>0644: the owner reads and writes, everybody reads (a public key, a record other users' tools read).</summary>
    public const UnixFileMode ReadableByAll = OwnerOnly | UnixFileMode.GroupRead | UnixFileMode.OtherRead;

    /// <summary>Writes <paramref name="bytes"/> to <paramref name="path"/>, whole or not at all, in place of what it held.</summary>
    public static void Write(string path, ReadOnlySpan<byte> bytes, UnixFileMode mode = OwnerOnly)
    {
        var temp = Temp(path, bytes, mode);
        try
        {
            File.Move(temp, path, overwrite: true);
        }
        finally
        {
            File.Delete(temp);
        }

        FlushDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
    }

    /// <summary>
    /// Makes <paramref name="path"/> with <paramref name="bytes"/>, whole or not at all, unless it exists: of two
    /// processes making it at once, the first wins and the other's bytes are dropped. False when the file was there (its
    /// content is the one to use).
    /// </summary>
    public static bool CreateOnce(string path, ReadOnlySpan<byte> bytes, UnixFileMode mode = OwnerOnly)
    {
        var temp = Temp(path, bytes, mode);
        bool made;
        try
        {
            if (OperatingSystem.IsWindows())
            {
                try
                {
                    File.Move(temp, path, overwrite: false); // MoveFileEx without REPLACE_EXISTING: atomic there
                    return true;
                }
                catch (IOException) when (File.Exists(path))
                {
                    return false;
                }
            }

            // link(2) makes the name only if it is free, in one step. File.Move(…, overwrite: false) is not that here:
            // where the file system has no RENAME_NOREPLACE it looks, then renames, and two writers racing both "won"
            // (AtomicFileTests saw it). .NET has no hard-link call, hence the P/Invoke.
            made = Link(Path.GetFullPath(temp), Path.GetFullPath(path)) == 0;
            var errno = made ? 0 : Marshal.GetLastPInvokeError();
            if (!made && errno != EEXIST) throw new IOException($"cannot make {path}: {Marshal.GetPInvokeErrorMessage(errno)}", errno);
        }
        finally
        {
            File.Delete(temp);
        }

        // After the temporary name is gone, so that the flush keeps the new name and the removal alike.
        if (made) FlushDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        return made;
    }

    /// <summary>
    /// fsyncs the directory <paramref name="path"/>, so the names just made, moved or removed in it survive a crash
    /// (the file's own fsync keeps its bytes, not its name). .NET has no call for it: it will not open a directory as a
    /// file, hence open(2), fsync(2) and close(2) here, the one place the project does it. Nothing to do on Windows,
    /// where NTFS journals renames and there is no directory handle to flush.
    /// </summary>
    public static void FlushDirectory(string path)
    {
        if (OperatingSystem.IsWindows()) return;
        // O_RDONLY | O_CLOEXEC: a process started meanwhile does not inherit the descriptor.
        var fd = Open(path, OperatingSystem.IsMacOS() ? 0x1000000 : 0x80000);
        if (fd < 0)
        {
            var errno = Marshal.GetLastPInvokeError();
            throw new IOException($"cannot open the directory {path} to flush it: {Marshal.GetPInvokeErrorMessage(errno)}", errno);
        }

        try
        {
            if (Fsync(fd) != 0)
            {
                var errno = Marshal.GetLastPInvokeError();
                throw new IOException($"cannot flush the directory {path} to disk: {Marshal.GetPInvokeErrorMessage(errno)}", errno);
            }
        }
        finally
        {
            _ = Close(fd);
        }
    }

    private const int EEXIST = 17; // Linux and macOS alike

    [DllImport("libc", EntryPoint = "open", SetLastError = true)]
    private static extern int Open([MarshalAs(UnmanagedType.LPUTF8Str)] string path, int flags);

    [DllImport("libc", EntryPoint = "fsync", SetLastError = true)]
    private static extern int Fsync(int fd);

    [DllImport("libc", EntryPoint = "close", SetLastError = true)]
    private static extern int Close(int fd);

    [DllImport("libc", EntryPoint = "link", SetLastError = true)]
    private static extern int Link([MarshalAs(UnmanagedType.LPUTF8Str)] string existing, [MarshalAs(UnmanagedType.LPUTF8Str)] string created);

    // A name of its own per write (two writers never share a temporary file), made with its final mode.
    private static string Temp(string path, ReadOnlySpan<byte> bytes, UnixFileMode mode)
    {
        var full = Path.GetFullPath(path);
        var directory = Path.GetDirectoryName(full)!;
        if (OperatingSystem.IsWindows()) Directory.CreateDirectory(directory);
        else Directory.CreateDirectory(directory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        var temp = $"{full}.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp";
        var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write, Share = FileShare.None };
        if (!OperatingSystem.IsWindows()) options.UnixCreateMode = mode;
        try
        {
            using var stream = new FileStream(temp, options);
            stream.Write(bytes);
            stream.Flush(flushToDisk: true);
        }
        catch
        {
            File.Delete(temp);
            throw;
        }

        return temp;
    }
}
