using InfraMind.Oci;
using InfraMind.Oci.Layout;

namespace InfraMind.Storage;

/// <summary>
/// A private directory inside the store where one image's blobs are written and verified before they are committed.
/// Disposing it removes everything left in it: a failed or cancelled transfer leaves nothing behind. While it lives it
/// holds an exclusive lock on its <see cref="OwnerFile"/>; a process killed mid-transfer drops the lock with its life,
/// and the next process to open the store removes the area (<see cref="LocalContentStore"/>'s staging sweep).
/// </summary>
internal sealed class StoreStaging : IDisposable
{
    /// <summary>Locked (flock, through FileShare.None) by the process using the area, for as long as it does.</summary>
    public const string OwnerFile = ".owner";

    private readonly LocalContentStore _store;
    private readonly FileStream _owner;

    internal StoreStaging(LocalContentStore store, string directory)
    {
        _store = store;
        Directory = directory;
        System.IO.Directory.CreateDirectory(Path.Combine(directory, "blobs", "sha256"));
        _owner = new FileStream(Path.Combine(directory, OwnerFile), FileMode.CreateNew, FileAccess.ReadWrite, FileShare.None);
    }

    public string Directory { get; }

    public string BlobPath(Digest digest) => Path.Combine(Directory, "blobs", "sha256", digest.Hex);

    /// <summary>
    /// Writes a blob from <paramref name="content"/>, hashing it on the way; it stays only if it matches
    /// <paramref name="expected"/> (digest and size). A blob the store already holds is not written again.
    /// </summary>
    public async Task WriteBlobAsync(Descriptor expected, Stream content, IProgress<TransferProgress>? progress, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(expected);
        ArgumentNullException.ThrowIfNull(content);
        string final = BlobPath(expected.Digest);
        if (File.Exists(final))
        {
            return;
        }

        string partial = final + ".partial";
        try
        {
            var verifying = new DigestVerifyingStream(content, expected.Digest, expected.Size, $"blob {expected.Digest} ({expected.MediaType})", leaveOpen: true);
            await using (verifying.ConfigureAwait(false))
            {
                var target = new FileStream(partial, FileMode.Create, FileAccess.Write, FileShare.None, 1, FileOptions.Asynchronous);
                await using (target.ConfigureAwait(false))
                {
                    await Transfer.CopyAsync(verifying, target, expected.Digest.Value, expected.Size, progress, cancellationToken).ConfigureAwait(false);
                    target.Flush(flushToDisk: true); // on disk before any name points at it
                }

                if (!verifying.IsVerified)
                {
                    // An empty read at the end makes the stream judge content shorter than expected.
                    _ = await verifying.ReadAsync(new byte[1], cancellationToken).ConfigureAwait(false);
                }
            }

            File.Move(partial, final);
        }
        finally
        {
            File.Delete(partial);
        }
    }

    /// <summary>Writes bytes already in memory (a manifest) after checking them against their descriptor.</summary>
    public async Task WriteBlobAsync(Descriptor expected, byte[] content, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(expected);
        var actual = Digest.Compute(content);
        if (actual != expected.Digest)
        {
            throw new DigestMismatchException(expected.Digest, actual, $"manifest {expected.Digest}");
        }

        await Durable.WriteFileAsync(BlobPath(expected.Digest), content, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Commits <paramref name="image"/> (whose blobs are all in this area or already in the store). With
    /// <paramref name="verify"/>, first re-reads the area as an OCI layout: every blob hashed again, the manifest → config →
    /// layers chain checked (sizes, media types, diff_ids).
    /// </summary>
    public async Task<ImageArchive> CommitAsync(OciImage image, bool verify, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(image);
        foreach (var blob in new[] { image.Config }.Concat(image.Layers).Append(image.Manifest))
        {
            if (!File.Exists(BlobPath(blob.Digest)) && !_store.HasBlob(blob.Digest))
            {
                throw new OciException(OciErrorCodes.InvalidLayout, $"blob {blob.Digest} of image {image.ManifestDigest} was never received; the transfer is incomplete.");
            }
        }

        if (verify)
        {
            // Blobs the store already had are linked in so that the layout check sees the whole image.
            foreach (var blob in new[] { image.Config }.Concat(image.Layers))
            {
                if (!File.Exists(BlobPath(blob.Digest)))
                {
                    File.Copy(_store.BlobPath(blob.Digest), BlobPath(blob.Digest));
                }
            }

            byte[] index = LayoutDocuments.BuildIndex([image.Manifest with { Annotations = null }]);
            await File.WriteAllBytesAsync(Path.Combine(Directory, "index.json"), index, cancellationToken).ConfigureAwait(false);
            await File.WriteAllTextAsync(Path.Combine(Directory, "oci-layout"), LayoutDocuments.LayoutFileContent, cancellationToken).ConfigureAwait(false);
            var layout = await OciImageLayout.OpenAsync(Directory, cancellationToken).ConfigureAwait(false);
            image = layout.Images[0] with { RepoTags = image.RepoTags };
        }

        return await _store.CommitAsync(Directory, image, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Removes the area; a file still open elsewhere may stay, and no later staging reuses the directory.</summary>
    public void Dispose()
    {
        _owner.Dispose();
        ScratchDirectory.Delete(Directory);
    }

    /// <summary>
    /// Removes the areas under <paramref name="stagingRoot"/> that no live process owns: their owner file is not locked
    /// (the process died), or they have none and are older than a minute (killed between making the directory and the
    /// lock). Areas of running transfers, in this process or another, are left alone. Returns how many were removed.
    /// </summary>
    public static int Sweep(string stagingRoot)
    {
        if (!System.IO.Directory.Exists(stagingRoot))
        {
            return 0;
        }

        int removed = 0;
        foreach (var area in System.IO.Directory.EnumerateDirectories(stagingRoot))
        {
            string owner = Path.Combine(area, OwnerFile);
            try
            {
                if (File.Exists(owner))
                {
                    using (new FileStream(owner, FileMode.Open, FileAccess.ReadWrite, FileShare.None))
                    {
                        // Got the lock: nobody holds it any more.
                    }
                }
                else if (DateTime.UtcNow - System.IO.Directory.GetLastWriteTimeUtc(area) < TimeSpan.FromMinutes(1))
                {
                    continue;
                }
            }
            catch (IOException)
            {
                continue; // locked: a transfer is running
            }
            catch (UnauthorizedAccessException)
            {
                continue;
            }

            ScratchDirectory.Delete(area);
            removed += System.IO.Directory.Exists(area) ? 0 : 1;
        }

        return removed;
    }
}
