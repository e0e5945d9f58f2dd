using InfraMind.Oci;
using InfraMind.Oci.Layout;

namespace InfraMind.Storage;

/// <summary>
/// One image whose blobs are verified and at hand (in the local store): its manifest digest (the container hash),
/// config digest and layer digests. <see cref="WriteTarAsync"/> writes it as the deterministic OCI layout tar that
/// <c>ipfs add</c>, HTTP servers and <c>docker load</c> take, so the same image always gives the same bytes.
/// </summary>
public sealed class ImageArchive
{
    private readonly OciLayout _layout;

    internal ImageArchive(OciLayout layout, OciImage image)
    {
        _layout = layout;
        Image = image;
    }

    public OciImage Image { get; }

    /// <summary>The container hash.</summary>
    public Digest ManifestDigest => Image.ManifestDigest;

    public string ManifestMediaType => Image.Manifest.MediaType;

    /// <summary>Equals the engine's image id once loaded.</summary>
    public Digest ConfigDigest => Image.Config.Digest;

    public IReadOnlyList<Digest> LayerDigests => Image.Layers.Select(l => l.Digest).ToList();

    /// <summary>Names the image carries (<c>summarizer-v1:0.4.2</c>); <c>docker load</c> tags it with them.</summary>
    public IReadOnlyList<string> Names => Image.RepoTags;

    /// <summary>Bytes of manifest, config and layers together.</summary>
    public long Size => Image.Manifest.Size + Image.Config.Size + Image.Layers.Sum(l => l.Size);

    /// <summary>Every blob, config first then layers then the manifest, as a registry wants them uploaded.</summary>
    public IReadOnlyList<Descriptor> Blobs => [Image.Config, .. Image.Layers];

    internal string BlobPath(Digest digest) => _layout.BlobPath(digest);

    /// <summary>Opens the image config (JSON, at most <see cref="ArchiveLimits.MaxConfigBytes"/>, verified); the caller disposes it.</summary>
    public Stream OpenConfig() => OpenBlob(ConfigDigest);

    /// <summary>Opens a blob of this image for reading; the caller disposes it.</summary>
    internal Stream OpenBlob(Digest digest) =>
        new FileStream(_layout.BlobPath(digest), FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, FileOptions.Asynchronous | FileOptions.SequentialScan);

    internal Task<byte[]> ReadManifestAsync(CancellationToken cancellationToken) =>
        File.ReadAllBytesAsync(_layout.BlobPath(ManifestDigest), cancellationToken);

    /// <summary>Writes the deterministic OCI layout tar of this image (also loadable by <c>docker load</c>, tagged with <see cref="Names"/>).</summary>
    public Task WriteTarAsync(Stream output, CancellationToken cancellationToken) =>
        OciImageLayout.WriteTarAsync(_layout with { Images = [Image] }, output, cancellationToken);

    /// <summary>
    /// Writes the layout tar to a temporary file and returns it open at the start, deleted when disposed: what
    /// <c>ContainerEngine.LoadImageAsync</c> (docker load) takes.
    /// </summary>
    public Task<Stream> OpenTarAsync(CancellationToken cancellationToken) => OpenTarAsync(null, cancellationToken);

    /// <summary>As <see cref="OpenTarAsync(CancellationToken)"/>, in <paramref name="directory"/> (else the system's temp directory).</summary>
    internal async Task<Stream> OpenTarAsync(string? directory, CancellationToken cancellationToken)
    {
        string path = Path.Combine(directory ?? Path.GetTempPath(), "inframind-image-" + Guid.NewGuid().ToString("N") + ".tar");
        var file = new FileStream(path, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.None, 1 << 16, FileOptions.Asynchronous | FileOptions.DeleteOnClose);
        try
        {
            await WriteTarAsync(file, cancellationToken).ConfigureAwait(false);
            file.Position = 0;
            return file;
        }
        catch
        {
            await file.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>
    /// This image with no names (<c>RepoTags</c>, <c>io.containerd.image.name</c>): <c>docker load</c> of its tar then
    /// names nothing in the engine, as a node loads what it runs (by id; a name the store gave it could move an
    /// operator's tag of the same name to this image).
    /// </summary>
    public ImageArchive WithoutNames() => Image.RepoTags.Count == 0 && Image.Manifest.Annotations is null ? this : new(_layout, Nameless(Image));

    /// <summary>
    /// An image without the names an archive gives it (<c>RepoTags</c>, <c>io.containerd.image.name</c>): whoever made
    /// an archive would otherwise name images in the store that imports it (<c>local://python:3.10-slim</c>) and in the
    /// engine it is loaded into.
    /// </summary>
    internal static OciImage Nameless(OciImage image) => image with { Manifest = image.Manifest with { Annotations = null }, RepoTags = [] };

    internal static OciImage WithNames(OciImage image, IReadOnlyList<string> names)
    {
        var annotations = LayoutDocuments.NameAnnotations(names.Count > 0 ? names[0] : null);
        return image with { Manifest = image.Manifest with { Annotations = annotations }, RepoTags = names.ToList() };
    }
}

/// <summary>How far a transfer is: what moves (a blob, a file), bytes done, bytes in all when known.</summary>
public readonly record struct TransferProgress(string What, long Bytes, long? Total, bool Done, bool Skipped = false);

/// <summary>What a push left where: the reference to publish (pinned to the content) and the image it names.</summary>
public sealed record PushResult(ContentReference Reference, Digest ManifestDigest, long Size);

/// <summary>
/// A place images are pushed to and pulled from. Every pull verifies all content against the reference's digests
/// before anything enters the local store, and leaves nothing behind when it fails.
/// </summary>
internal interface IContentBackend
{
    /// <summary>Whether this backend serves references of this kind (and, for pushes, this destination).</summary>
    bool CanHandle(ContentReference reference);

    /// <summary>Pushes <paramref name="image"/> to <paramref name="target"/>; returns a reference pinned to its content.</summary>
    Task<PushResult> PushAsync(ImageArchive image, ContentReference target, IProgress<TransferProgress>? progress, CancellationToken cancellationToken);

    /// <summary>Fetches <paramref name="reference"/>, verifies it and commits it to <paramref name="store"/>.</summary>
    Task<ImageArchive> PullAsync(ContentReference reference, LocalContentStore store, IProgress<TransferProgress>? progress, CancellationToken cancellationToken);
}
