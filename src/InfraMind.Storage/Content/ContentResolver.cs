using InfraMind.Oci;
using InfraMind.Storage.Http;
using InfraMind.Storage.Registry;

namespace InfraMind.Storage;

/// <summary>
/// The one entry point for content: resolves any <see cref="ContentReference"/> to a verified image in the local
/// store (fetching it through the matching backend when it is not there yet) and pushes images to any destination.
/// A backend for a further scheme is an <see cref="IContentBackend"/> of this assembly added to the list below.
/// </summary>
public sealed class ContentResolver
{
    private readonly IContentBackend[] _backends;
    private readonly BlobOrigins _origins;

    public ContentResolver(LocalContentStore store, PeerOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(store);
        Store = store;
        Options = options ?? new PeerOptions();
        _origins = new BlobOrigins(Path.Combine(store.Root, "origins"));
        _backends = [new RegistryBackend(Options, _origins), new HttpBackend(Options), new Ipfs.IpfsContentBackend(Options)];
    }

    public LocalContentStore Store { get; }

    public PeerOptions Options { get; }

    /// <summary>
    /// Forgets the store's nameless copy of an image (<see cref="LocalContentStore.ForgetAsync"/>) and, with the blobs
    /// it removed, what this store remembered of the registry repositories they came from (their mount origins): a node
    /// that lets go of strangers' images keeps no record of them either.
    /// </summary>
    public async Task<StoreForget> ForgetAsync(Digest manifestDigest, CancellationToken cancellationToken)
    {
        var forgotten = await Store.ForgetAsync(manifestDigest, cancellationToken).ConfigureAwait(false);
        _origins.Forget(forgotten.Blobs);
        return forgotten;
    }

    /// <summary>
    /// Returns the image <paramref name="reference"/> names, verified and in the local store. A reference pinned to a
    /// manifest digest the store already holds is answered from the store without any network (unless the policy says
    /// <see cref="FetchPolicy.AnswerFromStore"/> is off). A reference that resolves on this host (<c>file://</c>,
    /// <c>local://</c>) is refused before anything is looked at when the policy does not allow it.
    /// Throws <see cref="StorageException"/> (IM42xx) or <see cref="OciException"/> (IM4002 digest mismatch …).
    /// </summary>
    public async Task<ImageArchive> ResolveAsync(ContentReference reference, IProgress<TransferProgress>? progress, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(reference);
        if (reference.IsHostLocal && !Options.Policy.HostLocalReferences)
        {
            throw HostLocalRefused(reference);
        }

        switch (reference)
        {
            case LocalReference local:
                return await Store.GetAsync(local, cancellationToken).ConfigureAwait(false);
            case FileReference file:
                return await ImportFileAsync(file, cancellationToken).ConfigureAwait(false);
            case OciReference { Digest: { } pinned } when Options.Policy.AnswerFromStore:
                if (await Store.FindAsync(pinned, cancellationToken).ConfigureAwait(false) is { } cached)
                {
                    return cached;
                }

                break;
        }

        return await BackendFor(reference, "pull from").PullAsync(reference, Store, progress, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Pushes an image from the local store to <paramref name="target"/>; the result's reference is pinned to the content.</summary>
    public async Task<PushResult> PushAsync(ImageArchive image, ContentReference target, IProgress<TransferProgress>? progress, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(image);
        ArgumentNullException.ThrowIfNull(target);
        if (target is LocalReference)
        {
            return new PushResult(new LocalReference(image.ManifestDigest, null), image.ManifestDigest, image.Size);
        }

        if (target is FileReference file)
        {
            // Written beside and renamed, so the path never holds half a tar.
            string partial = file.Path + "." + Guid.NewGuid().ToString("N") + ".partial";
            try
            {
                long size;
                var output = new FileStream(partial, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16, FileOptions.Asynchronous);
                await using (output.ConfigureAwait(false))
                {
                    await image.WriteTarAsync(output, cancellationToken).ConfigureAwait(false);
                    size = output.Length;
                }

                File.Move(partial, file.Path, overwrite: true);
                return new PushResult(new FileReference(file.Path), image.ManifestDigest, size);
            }
            finally
            {
                File.Delete(partial);
            }
        }

        return await BackendFor(target, "push to").PushAsync(image, target, progress, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// The one answer to a host-local reference where it is not allowed: the same words for every path or name, said
    /// before the file system is touched, so the answer tells nothing about what exists on this host.
    /// </summary>
    public static StorageException HostLocalRefused(ContentReference reference) =>
        new(StorageErrorCodes.UnsupportedReference,
            $"a {(reference is LocalReference ? "local://" : "file://")} reference resolves on the machine that reads it, so it is not taken on a publisher's behalf; " +
            "publish a remote, content-addressed reference (oci://HOST/REPO@sha256:…, https://…#sha256=…, ipfs://CID).");

    private IContentBackend BackendFor(ContentReference reference, string verb) =>
        _backends.FirstOrDefault(b => b.CanHandle(reference))
        ?? throw new StorageException(StorageErrorCodes.BackendUnavailable, reference is IpfsReference
            ? $"this build of infra cannot {verb} IPFS yet ({reference}); use oci://, https:// or local, or add the layout tar with 'ipfs add --wrap-with-directory' yourself."
            : $"no backend can {verb} {reference}.");

    private async Task<ImageArchive> ImportFileAsync(FileReference file, CancellationToken cancellationToken)
    {
        if (Directory.Exists(file.Path))
        {
            return await Store.ImportLayoutDirectoryAsync(file.Path, cancellationToken).ConfigureAwait(false);
        }

        if (!File.Exists(file.Path))
        {
            throw new StorageException(StorageErrorCodes.NotFound, $"{file.Path} does not exist; a file:// reference names an OCI layout directory or layout tar on this machine.");
        }

        return await Store.ImportArchiveFileAsync(file.Path, cancellationToken).ConfigureAwait(false);
    }
}
