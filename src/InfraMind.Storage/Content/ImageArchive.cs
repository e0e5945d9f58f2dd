using System.IO.Pipelines;
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

    /// <summary>Bytes of the layout tar <see cref="ReadTarAsync{T}"/> writes ahead of its reader, at most.</summary>
    public const int TarReadAhead = 1 << 20;

    /// <summary>
    /// Hands <paramref name="read"/> the deterministic layout tar (what <c>ContainerEngine.LoadImageAsync</c>, docker
    /// load, takes) as a stream written while it is read: the image is never copied, neither to a temporary file (which
    /// needs the image's size free in the temp directory, in memory where that is a tmpfs) nor to memory; the writer
    /// runs at most <see cref="TarReadAhead"/> bytes ahead. When the tar cannot be written (a blob unreadable), that
    /// failure is thrown rather than what the reader made of a stream that stopped short.
    /// </summary>
    public async Task<T> ReadTarAsync<T>(Func<Stream, CancellationToken, Task<T>> read, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(read);
        var pipe = new Pipe(new PipeOptions(pauseWriterThreshold: TarReadAhead, resumeWriterThreshold: TarReadAhead / 2, useSynchronizationContext: false));
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        Exception? writeFailure = null;
        var write = Task.Run(async () =>
        {
            try
            {
                var output = pipe.Writer.AsStream(leaveOpen: true);
                await using (output.ConfigureAwait(false))
                {
                    await WriteTarAsync(output, stop.Token).ConfigureAwait(false);
                }

                await pipe.Writer.CompleteAsync().ConfigureAwait(false);
            }
            catch (Exception e)
            {
                writeFailure = e;
                await pipe.Writer.CompleteAsync(e).ConfigureAwait(false);
            }
        }, CancellationToken.None);
        try
        {
            var input = pipe.Reader.AsStream(leaveOpen: true);
            await using (input.ConfigureAwait(false))
            {
                return await read(input, cancellationToken).ConfigureAwait(false);
            }
        }
        catch (Exception)
        {
            // Stop the writer, then see whether it had failed first: a tar that could not be written (a blob
            // unreadable) is the cause of what the reader saw (a stream that stopped short), so that is what is thrown.
            await stop.CancelAsync().ConfigureAwait(false);
            await write.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            if (writeFailure is { } failure and not OperationCanceledException)
            {
                System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(failure);
            }

            throw;
        }
        finally
        {
            // A reader that returned without reading to the end stops the writer: nothing is left running or buffered.
            await stop.CancelAsync().ConfigureAwait(false);
            await pipe.Reader.CompleteAsync().ConfigureAwait(false);
            await write.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
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
