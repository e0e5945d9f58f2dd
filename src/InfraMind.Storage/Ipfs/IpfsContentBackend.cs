namespace InfraMind.Storage.Ipfs;

/// <summary>
/// Pushes an image's deterministic layout tar to an IPFS node as <c>ipfs add --wrap-with-directory</c> would
/// (<c>image.tar</c> in a directory, CIDv0 like kubo's default), and pulls <c>ipfs://CID</c> references: the
/// directory's <c>image.tar</c>, or the file itself for a file CID, verified against the CID while it streams, then
/// imported into the store (a layout tar, or a plain <c>docker save</c> archive as SPEC's
/// <c>docker save … | ipfs add --wrap-with-directory</c> gives, converted).
/// </summary>
internal sealed class IpfsContentBackend(PeerOptions options) : IContentBackend
{
    public bool CanHandle(ContentReference reference) => reference is IpfsReference;

    public async Task<PushResult> PushAsync(ImageArchive image, ContentReference target, IProgress<TransferProgress>? progress, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(image);
        var ipfs = target as IpfsReference ?? throw new ArgumentException("not an ipfs reference", nameof(target));
        var api = ipfs.Api ?? options.IpfsApi;
        using var client = new KuboClient(api) { StallTimeout = options.StallTimeout };
        string what = IpfsReference.WrappedFileName;
        // The layout tar goes to the node as it is written (the upload and the local CID are one pass over it): no
        // copy of the image in a temp file. Its size is known once it is written.
        var bytes = progress is null ? null : new Progress(progress, what, null);
        bytes?.Start();
        var result = await image.ReadTarAsync(
            (tar, ct) => client.AddAsync(tar, what, UnixFsOptions.KuboDefault with { WrapName = IpfsReference.WrappedFileName }, bytes, ct),
            cancellationToken).ConfigureAwait(false);
        progress?.Report(new TransferProgress(what, result.FileSize, result.FileSize, true));
        return new PushResult(new IpfsReference(result.Root, null), image.ManifestDigest, result.FileSize);
    }

    public async Task<ImageArchive> PullAsync(ContentReference reference, LocalContentStore store, IProgress<TransferProgress>? progress, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(store);
        var ipfs = reference as IpfsReference ?? throw new ArgumentException("not an ipfs reference", nameof(reference));
        var cid = ipfs.Cid ?? throw new StorageException(StorageErrorCodes.InvalidReference, "an ipfs reference to pull needs a CID: ipfs://<cid>.");
        using var staging = store.BeginStaging();
        string download = Path.Combine(staging.Directory, "download.tar");
        using var client = new KuboClient(options.IpfsApi) { StallTimeout = options.StallTimeout };
        string what = $"ipfs://{cid}";
        progress?.Report(new TransferProgress(what, 0, null, false));
        long size;
        {
            // A raw-leaf or raw CID is a file; a dag-pb root is a directory wrapping image.tar unless the reference
            // names the entry itself, or the node says the directory has no such entry (then it is a file).
            string? entry = ipfs.Path ?? (cid.Codec == Cid.DagPbCodec ? IpfsReference.WrappedFileName : null);
            try
            {
                size = await FetchAsync(client, cid, entry, download, options.Policy.MaxImageBytes, cancellationToken).ConfigureAwait(false);
            }
            catch (IpfsException e) when (ipfs.Path is null && entry is not null && e.Code == IpfsErrorCodes.HttpError)
            {
                size = await FetchAsync(client, cid, null, download, options.Policy.MaxImageBytes, cancellationToken).ConfigureAwait(false);
            }
        }

        progress?.Report(new TransferProgress(what, size, size, true));
        return await store.ImportArchiveFileAsync(download, cancellationToken).ConfigureAwait(false);
    }

    private static async Task<long> FetchAsync(KuboClient client, Cid cid, string? entry, string path, long? cap, CancellationToken cancellationToken)
    {
        var file = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16, FileOptions.Asynchronous);
        await using (file.ConfigureAwait(false))
        {
            Stream target = cap is { } max ? new CappedWriteStream(file, max, $"ipfs://{cid}") : file;
            var result = await client.FetchAsync(cid, entry, target, cancellationToken).ConfigureAwait(false);
            return result.FileSize;
        }
    }

    private sealed class Progress(IProgress<TransferProgress> sink, string what, long? total) : IProgress<long>
    {
        public void Start() => sink.Report(new TransferProgress(what, 0, total, false));

        public void Report(long value) => sink.Report(new TransferProgress(what, value, total, false));
    }
}
