namespace InfraMind.Storage;

/// <summary>
/// What makes a rename trustworthy after a crash: the file's bytes on disk before it is renamed (FileStream.Flush(true)
/// is fsync), and the directory that holds the new name on disk after (<see cref="AtomicFile.FlushDirectory"/>).
/// </summary>
internal static class Durable
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
}
