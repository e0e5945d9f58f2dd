using System.Security.Cryptography;
using System.Text;

namespace InfraMind.Conformance;

/// <summary>
/// Labels that say which manifest and which build context an image was built from, so a run can reuse an image
/// only when neither changed.
/// </summary>
public static class ImageIdentity
{
    public const string ManifestDigestLabel = "org.inframind.manifest-digest";
    public const string ContextDigestLabel = "org.inframind.context-digest";
    public const string ModelLabel = "org.inframind.model";

    /// <summary>sha256 over every file of the context (path, executable bit, bytes), in a fixed order.</summary>
    public static string ContextDigest(string directory)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var root = Path.GetFullPath(directory);
        var files = Directory.EnumerateFiles(root, "*", new EnumerationOptions { RecurseSubdirectories = true, AttributesToSkip = 0 })
            .Select(f => Path.GetRelativePath(root, f).Replace('\\', '/'))
            .Where(f => !f.StartsWith(".git/", StringComparison.Ordinal))
            .Order(StringComparer.Ordinal);
        var buffer = new byte[81920];
        foreach (var relative in files)
        {
            var full = Path.Combine(root, relative);
            var info = new FileInfo(full);
            var exec = !OperatingSystem.IsWindows() && (info.UnixFileMode & UnixFileMode.UserExecute) != 0;
            hash.AppendData(Encoding.UTF8.GetBytes($"{relative}\0{(exec ? 'x' : '-')}\0{info.Length}\0"));
            using var stream = File.OpenRead(full);
            int read;
            while ((read = stream.Read(buffer)) > 0) hash.AppendData(buffer, 0, read);
        }

        return "sha256:" + Convert.ToHexStringLower(hash.GetHashAndReset());
    }
}
