using System.Security.Cryptography;
using System.Text;
using InfraMind.Oci;

namespace InfraMind.Storage.Registry;

/// <summary>
/// Remembers, per registry, a repository where each blob is known to be (pushed there or pulled from there), so that a
/// push to another repository of the same registry mounts the blob (<c>POST …/blobs/uploads/?mount=&amp;from=</c>)
/// instead of uploading it again, as docker does with its own blob metadata. One small file per registry and blob
/// under <c>&lt;store&gt;/origins/</c>, written whole (temporary file, then rename), so concurrent pushes never see
/// half a name; a stale entry costs nothing: the registry then answers with an upload location and the blob is sent.
/// The records of blobs the store forgets go with them (<see cref="ContentResolver.ForgetAsync"/>).
/// </summary>
internal sealed class BlobOrigins(string root)
{
    /// <summary>A repository of <paramref name="registry"/> other than <paramref name="except"/> known to hold <paramref name="blob"/>.</summary>
    public string? Find(string registry, Digest blob, string except)
    {
        string path = PathOf(registry, blob);
        try
        {
            var info = new FileInfo(path);
            if (!info.Exists || info.Length > 512)
            {
                return null;
            }

            string repository = File.ReadAllText(path, Encoding.UTF8).Trim();
            return repository != except && OciReference.IsRepositoryName(repository) ? repository : null;
        }
        catch (IOException)
        {
            return null;
        }
        catch (UnauthorizedAccessException)
        {
            return null;
        }
    }

    /// <summary>Records that <paramref name="repository"/> of <paramref name="registry"/> holds <paramref name="blobs"/>.</summary>
    public void Record(string registry, string repository, IEnumerable<Digest> blobs)
    {
        ArgumentNullException.ThrowIfNull(blobs);
        try
        {
            foreach (var blob in blobs)
            {
                string path = PathOf(registry, blob);
                Directory.CreateDirectory(Path.GetDirectoryName(path)!);
                string temporary = path + "." + Guid.NewGuid().ToString("N");
                File.WriteAllText(temporary, repository, Encoding.UTF8);
                File.Move(temporary, path, overwrite: true);
            }
        }
        catch (IOException)
        {
            // Only an optimisation: a push that cannot remember still succeeded.
        }
        catch (UnauthorizedAccessException)
        {
        }
    }

    /// <summary>Forgets every registry's record of <paramref name="blobs"/> (blobs the store no longer holds).</summary>
    public void Forget(IReadOnlyCollection<Digest> blobs)
    {
        ArgumentNullException.ThrowIfNull(blobs);
        if (blobs.Count == 0 || !Directory.Exists(root)) return;
        try
        {
            foreach (var registry in Directory.EnumerateDirectories(root))
            {
                foreach (var blob in blobs)
                {
                    File.Delete(Path.Combine(registry, blob.Hex));
                }
            }
        }
        catch (IOException)
        {
            // A stale record costs nothing (see above): the next push uploads what it cannot mount.
        }
        catch (UnauthorizedAccessException)
        {
        }
    }

    // The registry's name is hashed into the path, so no host or port can name a path outside the root.
    private string PathOf(string registry, Digest blob) =>
        Path.Combine(root, Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(registry.ToLowerInvariant())))[..32], blob.Hex);
}
