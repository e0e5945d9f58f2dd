using InfraMind.Oci;
using InfraMind.Oci.Layout;

namespace InfraMind.Storage;

/// <summary>
/// A private directory inside the store where one image's blobs are written and verified before they are committed.
/// Disposing it removes everything left in it: a failed or cancelled transfer leaves nothing behind.
/// </summary>
internal sealed class StoreStaging : IDisposable
{
    private readonly LocalContentStore _store;

    internal StoreStaging(LocalContentStore store, string directory)
    {
        _store = store;
        Directory = directory;
        System.IO.Directory.CreateDirectory(Path.Combine(directory, "blobs", "sha256"));
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

        await File.WriteAllBytesAsync(BlobPath(expected.Digest), content, cancellationToken).ConfigureAwait(false);
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
    public void Dispose() => ScratchDirectory.Delete(Directory);
}
