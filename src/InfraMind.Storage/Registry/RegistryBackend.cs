using InfraMind.Oci;

namespace InfraMind.Storage.Registry;

/// <summary>
/// Pushes images to and pulls them from an OCI distribution registry. A push uploads only the blobs the registry
/// lacks (HEAD first, then a cross-repository mount from <see cref="PeerOptions.MountFrom"/>, or else from a repository
/// of the same registry that <see cref="BlobOrigins"/> knows holds the blob), then PUTs the manifest
/// with its own media type, so the registry's digest is InfraMind's container hash. A pull verifies the manifest
/// against the reference's digest (or the registry's, for a tag) and every blob against the manifest. An image index
/// (multi-platform) resolves to the manifest for this machine's platform (<see cref="ImageIndex"/>), verified against
/// the index; the image pulled, and its container hash, is that platform's.
/// </summary>
internal sealed class RegistryBackend(PeerOptions options, BlobOrigins? origins = null) : IContentBackend
{
    public bool CanHandle(ContentReference reference) => reference is OciReference;

    public async Task<PushResult> PushAsync(ImageArchive image, ContentReference target, IProgress<TransferProgress>? progress, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(image);
        var reference = target as OciReference ?? throw new ArgumentException("not an oci reference", nameof(target));
        using var client = new RegistryClient(reference, options);
        await client.AuthenticateAsync("pull,push", cancellationToken).ConfigureAwait(false);
        foreach (var blob in image.Blobs)
        {
            if (await client.BlobExistsAsync(blob.Digest, cancellationToken).ConfigureAwait(false))
            {
                progress?.Report(new TransferProgress(blob.Digest.Value, blob.Size, blob.Size, true, Skipped: true));
                continue;
            }

            string? mountFrom = options.MountFrom ?? origins?.Find(reference.Registry, blob.Digest, reference.Repository);
            var location = await client.StartUploadAsync(blob.Digest, mountFrom, cancellationToken).ConfigureAwait(false);
            if (location is null)
            {
                progress?.Report(new TransferProgress(blob.Digest.Value, blob.Size, blob.Size, true, Skipped: true));
                continue;
            }

            var content = image.OpenBlob(blob.Digest);
            await using (content.ConfigureAwait(false))
            {
                if (blob.Size > options.ChunkedUploadThreshold)
                {
                    await client.UploadChunkedAsync(location, blob, content, options.ChunkSize, progress, cancellationToken).ConfigureAwait(false);
                }
                else
                {
                    await client.UploadMonolithicAsync(location, blob, content, progress, cancellationToken).ConfigureAwait(false);
                }
            }
        }

        byte[] manifest = await image.ReadManifestAsync(cancellationToken).ConfigureAwait(false);
        string tag = reference.Tag ?? image.ManifestDigest.Value;
        var stored = await client.PutManifestAsync(tag, image.ManifestMediaType, manifest, cancellationToken).ConfigureAwait(false);
        if (stored is { } s && s != image.ManifestDigest)
        {
            throw new StorageException(StorageErrorCodes.PeerRejected,
                $"{reference.Registry} stored the manifest under {s}, not {image.ManifestDigest}; it rewrote the manifest, so the container hash would not match",
                hint: "use a registry that stores manifests as sent");
        }

        origins?.Record(reference.Registry, reference.Repository, image.Blobs.Select(b => b.Digest));
        return new PushResult(reference.WithDigest(image.ManifestDigest), image.ManifestDigest, image.Size);
    }

    public async Task<ImageArchive> PullAsync(ContentReference reference, LocalContentStore store, IProgress<TransferProgress>? progress, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(store);
        var oci = reference as OciReference ?? throw new ArgumentException("not an oci reference", nameof(reference));
        using var client = new RegistryClient(oci, options);
        await client.AuthenticateAsync("pull", cancellationToken).ConfigureAwait(false);
        var (bytes, mediaType, headerDigest) = await client.GetManifestAsync(oci.ManifestReference, cancellationToken).ConfigureAwait(false);
        var actual = Digest.Compute(bytes);
        if (oci.Digest is { } pinned && actual != pinned)
        {
            throw new DigestMismatchException(pinned, actual, $"manifest {oci}");
        }

        if (oci.Digest is null && headerDigest is { } said && said != actual)
        {
            throw new DigestMismatchException(said, actual, $"manifest {oci} (the registry's Docker-Content-Digest)");
        }

        if (ImageIndex.IsIndex(bytes, mediaType))
        {
            // The index is verified (above); the platform's manifest is verified against the index's descriptor.
            var chosen = ImageIndex.Select(bytes, ImageIndex.Host, $"manifest {oci}");
            (bytes, mediaType, _) = await client.GetManifestAsync(chosen.Digest.Value, cancellationToken).ConfigureAwait(false);
            actual = Digest.Compute(bytes);
            if (actual != chosen.Digest || bytes.Length != chosen.Size)
            {
                throw new DigestMismatchException(chosen.Digest, actual, $"the {ImageIndex.Host} manifest of {oci} ({bytes.Length} bytes, the index says {chosen.Size})");
            }

            mediaType ??= chosen.MediaType;
        }

        var manifest = ImageManifest.Parse(bytes, $"manifest {oci}", mediaType);
        var manifestDescriptor = new Descriptor(manifest.MediaType, actual, bytes.Length);
        long declared = bytes.Length + manifest.Config.Size + manifest.Layers.Sum(l => l.Size);
        if (options.Policy.MaxImageBytes is { } cap && declared > cap)
        {
            throw CappedWriteStream.TooLarge($"image {oci}", cap, declared);
        }

        // A tag names the image only when the user asked for it by that tag; on a publisher's behalf nothing is named.
        IReadOnlyList<string> names = oci.Tag is { } tag && options.Policy.NameImages ? [$"{oci.Registry}/{oci.Repository}:{tag}"] : [];
        using var staging = store.BeginStaging();
        if (await store.FindAsync(actual, cancellationToken).ConfigureAwait(false) is not null)
        {
            // The store already holds this exact manifest, its blobs verified (FindAsync re-checks them): only the name is new.
            return await staging.CommitAsync(new OciImage(manifestDescriptor, manifest.Config, manifest.Layers, names), verify: false, cancellationToken).ConfigureAwait(false);
        }

        await staging.WriteBlobAsync(manifestDescriptor, bytes, cancellationToken).ConfigureAwait(false);
        foreach (var blob in new[] { manifest.Config }.Concat(manifest.Layers))
        {
            if (await store.HasVerifiedBlobAsync(blob, cancellationToken).ConfigureAwait(false))
            {
                progress?.Report(new TransferProgress(blob.Digest.Value, blob.Size, blob.Size, true, Skipped: true));
                continue;
            }

            var body = await client.OpenBlobAsync(blob.Digest, cancellationToken).ConfigureAwait(false);
            await using (body.ConfigureAwait(false))
            {
                await staging.WriteBlobAsync(blob, body, progress, cancellationToken).ConfigureAwait(false);
            }
        }

        var image = new OciImage(manifestDescriptor, manifest.Config, manifest.Layers, names);
        var committed = await staging.CommitAsync(image, verify: true, cancellationToken).ConfigureAwait(false);
        origins?.Record(oci.Registry, oci.Repository, committed.Blobs.Select(b => b.Digest));
        return committed;
    }
}
