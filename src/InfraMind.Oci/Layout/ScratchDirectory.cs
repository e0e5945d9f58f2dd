namespace InfraMind.Oci.Layout;

/// <summary>Directories that hold content only while it is converted or verified.</summary>
internal static class ScratchDirectory
{
    /// <summary>Removes the directory and all in it; leftover temp files are harmless, the original error (if any) matters more.</summary>
    public static void Delete(string path)
    {
        try
        {
            if (Directory.Exists(path))
            {
                Directory.Delete(path, recursive: true);
            }
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }
}
