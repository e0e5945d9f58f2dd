namespace InfraMind.Conformance;

/// <summary>
/// Remembers which image was last built from which build context (a file per context digest holding the image id),
/// so that a run finds its image with one inspect. The alternative, listing images filtered by label, makes the
/// engine scan every image it has: 65 ms at 700 images, on every run. The engine stays the truth: an entry is only a
/// hint, checked against the image's own labels, and a missing or stale one just means a list.
/// </summary>
public sealed class ImageIndex(string directory)
{
    public string Directory { get; } = directory;

    /// <summary>The image id last recorded for <paramref name="contextDigest"/>, or null.</summary>
    public string? Find(string contextDigest)
    {
        try
        {
            var id = File.ReadAllText(PathOf(contextDigest)).Trim();
            return id.StartsWith("sha256:", StringComparison.Ordinal) ? id : null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    /// <summary>Records <paramref name="imageId"/> for <paramref name="contextDigest"/>; a hint, so failing to write is not an error.</summary>
    public void Remember(string contextDigest, string imageId)
    {
        try
        {
            System.IO.Directory.CreateDirectory(Directory);
            var path = PathOf(contextDigest);
            var temp = $"{path}.{Environment.ProcessId}.tmp";
            File.WriteAllText(temp, imageId);
            File.Move(temp, path, overwrite: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // The next run lists images instead.
        }
    }

    private string PathOf(string contextDigest) =>
        Path.Combine(Directory, contextDigest.Replace("sha256:", "", StringComparison.Ordinal) is var hex && hex.All(char.IsAsciiHexDigitLower) && hex.Length == 64
            ? hex
            : throw new ArgumentException($"'{contextDigest}' is not a sha256 digest", nameof(contextDigest)));
}
