using System.Runtime.InteropServices;

namespace InfraMind.Serving;

/// <summary>
/// How the mesh keeps a secret on disk (a node's credential, a gateway's node bindings, its node token, a TLS key):
/// owner-only (0600, in a directory made 0700; one that exists is left as its owner set it), written to a file of its
/// own beside it, flushed to disk, then moved into place, so a crash leaves the old content or the new, never half,
/// and never an empty file where a secret should be.
/// </summary>
public static class OwnerOnlyFile
{
    /// <summary>Writes <paramref name="bytes"/> to <paramref name="path"/>, whole or not at all, in place of what it held.</summary>
    public static void Write(string path, ReadOnlySpan<byte> bytes)
    {
        var temp = Temp(path, bytes);
        try
        {
            File.Move(temp, path, overwrite: true);
        }
        finally
        {
            File.Delete(temp);
        }
    }

    /// <summary>
    /// Makes <paramref name="path"/> with <paramref name="bytes"/>, whole or not at all, unless it exists: of two
    /// processes making it at once, the first wins and the other's bytes are dropped. False when the file was there (its
    /// content is the one to use).
    /// </summary>
    public static bool CreateOnce(string path, ReadOnlySpan<byte> bytes)
    {
        var temp = Temp(path, bytes);
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
            // (OwnerOnlyFileTests saw it). .NET has no hard-link call, hence the one P/Invoke.
            if (Link(Path.GetFullPath(temp), Path.GetFullPath(path)) == 0) return true;
            var errno = Marshal.GetLastPInvokeError();
            if (errno == EEXIST) return false;
            throw new IOException($"cannot make {path}: {Marshal.GetPInvokeErrorMessage(errno)}", errno);
        }
        finally
        {
            File.Delete(temp);
        }
    }

    private const int EEXIST = 17; // Linux and macOS alike

    [DllImport("libc", EntryPoint = "link", SetLastError = true)]
    private static extern int Link([MarshalAs(UnmanagedType.LPUTF8Str)] string existing, [MarshalAs(UnmanagedType.LPUTF8Str)] string created);

    // A name of its own per write (two writers never share a temporary file), made owner-only from the start: the
    // secret is never readable by others, not even before a chmod.
    private static string Temp(string path, ReadOnlySpan<byte> bytes)
    {
        var full = Path.GetFullPath(path);
        var directory = Path.GetDirectoryName(full)!;
        if (OperatingSystem.IsWindows()) Directory.CreateDirectory(directory);
        else Directory.CreateDirectory(directory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        var temp = $"{full}.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp";
        var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write, Share = FileShare.None };
        if (!OperatingSystem.IsWindows()) options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
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
