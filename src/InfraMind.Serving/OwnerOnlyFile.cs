namespace InfraMind.Serving;

/// <summary>
/// How the mesh keeps a secret on disk (a node's credential, a gateway's node bindings): owner-only (0600, in a
/// directory made 0700), written to a file beside it, flushed to disk, then moved into place, so a crash leaves the old
/// content or the new, never half.
/// </summary>
public static class OwnerOnlyFile
{
    /// <summary>Writes <paramref name="bytes"/> to <paramref name="path"/>, whole or not at all.</summary>
    public static void Write(string path, ReadOnlySpan<byte> bytes)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        var temp = path + ".tmp";
        using (var stream = new FileStream(temp, new FileStreamOptions
        {
            Mode = FileMode.Create, Access = FileAccess.Write, UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite,
        }))
        {
            stream.Write(bytes);
            stream.Flush(flushToDisk: true);
        }

        File.Move(temp, path, overwrite: true);
    }
}
