using System.Collections.Concurrent;
using System.Text.Json;
using InfraMind.Oci;
using InfraMind.Oci.Layout;

namespace InfraMind.Storage;

/// <summary>
/// The embedded content store (<c>$INFRAMIND_HOME/store</c>), itself an OCI image layout: verified blobs under
/// <c>blobs/sha256/</c> and an <c>index.json</c> that lists image manifests by digest and by name:version.
/// Content enters only through a <see cref="StoreStaging"/> area: written there while hashed, verified, fsync'd, and
/// moved into <c>blobs/</c> only when the whole image is verified (the directory fsync'd after the rename), so a failed
/// or killed pull leaves nothing behind but its staging area, which the next process to open the store removes.
/// Blobs are not trusted for having a name: each is re-hashed on its first use in a process (<see cref="StoreBlobs"/>),
/// and one that does not match is removed and fetched again. Names come only from the user (a tag given to
/// <c>infra push</c> or <c>infra pull</c>), never from inside an archive.
/// </summary>
public sealed partial class LocalContentStore
{
    private const string LockFileName = ".lock";
    private static readonly TimeSpan LockTimeout = TimeSpan.FromSeconds(60);

    // Roots whose staging areas this process has swept: once per process, on first use.
    private static readonly ConcurrentDictionary<string, bool> Swept = new(StringComparer.Ordinal);

    public LocalContentStore(string root)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(root);
        Root = Path.GetFullPath(root);
        if (Swept.TryAdd(Root, true))
        {
            StoreStaging.Sweep(StagingRoot);
        }
    }

    public string Root { get; }

    internal string BlobDirectory => Path.Combine(Root, "blobs", "sha256");

    internal string StagingRoot => Path.Combine(Root, "staging");

    private string IndexPath => Path.Combine(Root, "index.json");

    public string BlobPath(Digest digest) => Path.Combine(BlobDirectory, digest.Hex);

    internal bool HasBlob(Digest digest) => File.Exists(BlobPath(digest));

    /// <summary>Whether the store holds <paramref name="blob"/> and it still hashes to its name (removed when it does not).</summary>
    internal Task<bool> HasVerifiedBlobAsync(Descriptor blob, CancellationToken cancellationToken) =>
        StoreBlobs.CheckAsync(BlobPath(blob.Digest), blob, cancellationToken);

    /// <summary>Starts a staging area for one image; dispose it to remove whatever was not committed.</summary>
    internal StoreStaging BeginStaging()
    {
        EnsureCreated();
        return new StoreStaging(this, Path.Combine(StagingRoot, Guid.NewGuid().ToString("N")));
    }

    /// <summary>
    /// Imports the first image of a <c>docker save</c> archive of the user's own engine (converted to the deterministic
    /// OCI layout, so its manifest digest is InfraMind's container hash), under the names the engine gave it.
    /// </summary>
    public Task<ImageArchive> ImportDockerArchiveAsync(Stream dockerSave, CancellationToken cancellationToken) =>
        ImportDockerArchiveAsync(dockerSave, keepNames: true, cancellationToken);

    private async Task<ImageArchive> ImportDockerArchiveAsync(Stream dockerSave, bool keepNames, CancellationToken cancellationToken)
    {
        using var staging = BeginStaging();
        var layout = await OciImageLayout.ImportDockerArchiveAsync(dockerSave, staging.Directory, cancellationToken).ConfigureAwait(false);
        return await staging.CommitAsync(keepNames ? layout.Images[0] : ImageArchive.Nameless(layout.Images[0]), verify: false, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Imports the first image of an OCI layout tar from a peer, every blob verified against its digest; names in the tar are ignored.</summary>
    internal async Task<ImageArchive> ImportLayoutTarAsync(Stream layoutTar, CancellationToken cancellationToken)
    {
        using var staging = BeginStaging();
        var layout = await OciImageLayout.ExtractAsync(layoutTar, staging.Directory, cancellationToken).ConfigureAwait(false);
        return await staging.CommitAsync(ImageArchive.Nameless(layout.Images[0]), verify: false, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Imports an archive file of either kind, fetched from a peer or named by file://: an OCI layout tar (it has
    /// <c>oci-layout</c>; every blob verified) or a plain <c>docker save</c> archive (converted, so the container hash is
    /// InfraMind's). Names inside the archive are ignored.
    /// </summary>
    internal async Task<ImageArchive> ImportArchiveFileAsync(string path, CancellationToken cancellationToken)
    {
        bool isLayout = false;
        var probe = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, FileOptions.Asynchronous);
        await using (probe.ConfigureAwait(false))
        {
            try
            {
                await using var reader = new System.Formats.Tar.TarReader(probe, leaveOpen: true);
                System.Formats.Tar.TarEntry? entry;
                while ((entry = await reader.GetNextEntryAsync(copyData: false, cancellationToken).ConfigureAwait(false)) is not null)
                {
                    if (entry.Name.TrimStart('.', '/') == "oci-layout")
                    {
                        isLayout = true;
                        break;
                    }
                }
            }
            catch (Exception e) when (e is InvalidDataException or FormatException or EndOfStreamException)
            {
                throw new OciException(OciErrorCodes.InvalidLayout, $"the archive is not a readable tar ({e.Message}); it is neither an OCI layout tar nor a 'docker save' archive.");
            }
        }

        var input = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, FileOptions.Asynchronous | FileOptions.SequentialScan);
        await using (input.ConfigureAwait(false))
        {
            return isLayout
                ? await ImportLayoutTarAsync(input, cancellationToken).ConfigureAwait(false)
                : await ImportDockerArchiveAsync(input, keepNames: false, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Imports the first image of an OCI layout directory, every blob verified against its digest; names in it are ignored.</summary>
    internal async Task<ImageArchive> ImportLayoutDirectoryAsync(string directory, CancellationToken cancellationToken)
    {
        var layout = await OciImageLayout.OpenAsync(directory, cancellationToken).ConfigureAwait(false);
        var image = ImageArchive.Nameless(layout.Images[0]);
        using var staging = BeginStaging();
        foreach (var blob in new[] { image.Manifest, image.Config }.Concat(image.Layers))
        {
            var source = new FileStream(layout.BlobPath(blob.Digest), FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, FileOptions.Asynchronous | FileOptions.SequentialScan);
            await using (source.ConfigureAwait(false))
            {
                await staging.WriteBlobAsync(blob, source, null, cancellationToken).ConfigureAwait(false);
            }
        }

        return await staging.CommitAsync(image, verify: false, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The image a local reference names. Throws <see cref="StorageException"/> (IM4207) when it is not here.</summary>
    public async Task<ImageArchive> GetAsync(LocalReference reference, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(reference);
        var found = reference.ManifestDigest is { } digest
            ? await FindAsync(digest, cancellationToken).ConfigureAwait(false)
            : reference.Name is { } name
                ? await FindAsync(name, cancellationToken).ConfigureAwait(false)
                : throw new StorageException(StorageErrorCodes.UnsupportedReference, "'local' names the whole store, not one image; write local://sha256:<digest> or local://name:version.");
        return found ?? throw new StorageException(
            StorageErrorCodes.NotInStore,
            $"{reference} is not in the local content store ({Root})");
    }

    /// <summary>
    /// The image with this manifest digest, every blob verified (on first use in this process); null when the store
    /// does not have it whole — a blob that no longer matches its name is removed, so a pull fetches it again.
    /// </summary>
    public async Task<ImageArchive?> FindAsync(Digest manifestDigest, CancellationToken cancellationToken)
    {
        var entries = await ReadIndexAsync(cancellationToken).ConfigureAwait(false);
        var matching = entries.Where(e => e.Descriptor.Digest == manifestDigest).ToList();
        if (matching.Count == 0)
        {
            return null;
        }

        return await OpenAsync(matching[0].Descriptor, matching.Select(e => e.Name).OfType<string>().ToList(), cancellationToken).ConfigureAwait(false);
    }

    public async Task<ImageArchive?> FindAsync(string name, CancellationToken cancellationToken)
    {
        var entries = await ReadIndexAsync(cancellationToken).ConfigureAwait(false);
        var entry = entries.FirstOrDefault(e => e.Name == name);
        return entry is null ? null : await FindAsync(entry.Descriptor.Digest, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Every image in the store, each once, with all its names.</summary>
    internal async Task<IReadOnlyList<ImageArchive>> ListAsync(CancellationToken cancellationToken)
    {
        var entries = await ReadIndexAsync(cancellationToken).ConfigureAwait(false);
        var images = new List<ImageArchive>();
        foreach (var group in entries.GroupBy(e => e.Descriptor.Digest))
        {
            if (await OpenAsync(group.First().Descriptor, group.Select(e => e.Name).OfType<string>().ToList(), cancellationToken).ConfigureAwait(false) is { } image)
            {
                images.Add(image);
            }
        }

        return images;
    }

    /// <summary>The image of an index entry with every blob checked against its name; null when one is missing or damaged (it is removed).</summary>
    private async Task<ImageArchive?> OpenAsync(Descriptor manifest, IReadOnlyList<string> names, CancellationToken cancellationToken)
    {
        string path = BlobPath(manifest.Digest);
        if (!File.Exists(path) || new FileInfo(path).Length > ArchiveLimits.MaxManifestBytes)
        {
            return null;
        }

        if (StoreBlobs.CheckRead(path, await File.ReadAllBytesAsync(path, cancellationToken).ConfigureAwait(false), manifest.Digest) is not { } bytes)
        {
            return null; // a zero-length or damaged manifest: gone now, so a pull writes it again
        }

        ImageManifest document;
        try
        {
            document = ImageManifest.Parse(bytes, $"manifest {manifest.Digest} in the local store");
        }
        catch (InfraMindException)
        {
            return null; // hashes to its name but is no image manifest: nothing a pull would have stored
        }

        foreach (var blob in new[] { document.Config }.Concat(document.Layers))
        {
            if (!await StoreBlobs.CheckAsync(BlobPath(blob.Digest), blob, cancellationToken).ConfigureAwait(false))
            {
                return null;
            }
        }

        var image = new OciImage(manifest with { Annotations = null }, document.Config, document.Layers, []);
        return new ImageArchive(new OciLayout(Root, [image]), ImageArchive.WithNames(image, names));
    }

    internal void EnsureCreated()
    {
        try
        {
            Directory.CreateDirectory(BlobDirectory);
            string layoutFile = Path.Combine(Root, "oci-layout");
            if (!File.Exists(layoutFile))
            {
                File.WriteAllText(layoutFile, LayoutDocuments.LayoutFileContent);
            }
        }
        catch (UnauthorizedAccessException e)
        {
            throw new StorageException(StorageErrorCodes.StoreNotWritable, $"the local content store {Root} is not writable: {e.Message}", e);
        }
    }

    /// <summary>Moves verified blobs in and records the image under its names, one writer at a time.</summary>
    internal async Task<ImageArchive> CommitAsync(string stagingDirectory, OciImage image, CancellationToken cancellationToken)
    {
        EnsureCreated();
        using (await AcquireLockAsync(cancellationToken).ConfigureAwait(false))
        {
            foreach (var blob in new[] { image.Config }.Concat(image.Layers).Append(image.Manifest))
            {
                string staged = Path.Combine(stagingDirectory, "blobs", "sha256", blob.Digest.Hex);
                string final = BlobPath(blob.Digest);
                // A blob already here is kept only if it still hashes to its name; a damaged one is replaced.
                if (await StoreBlobs.CheckAsync(final, blob, cancellationToken).ConfigureAwait(false) || !File.Exists(staged))
                {
                    continue;
                }

                // Same file system (both under Root): the move is atomic, so a reader sees the whole blob or none.
                File.Move(staged, final, overwrite: true);
                StoreBlobs.Trust(final);
            }

            AtomicFile.FlushDirectory(BlobDirectory);

            var entries = await ReadIndexAsync(cancellationToken).ConfigureAwait(false);
            var names = image.RepoTags;
            var displaced = entries.Where(e => e.Name is not null && names.Contains(e.Name) && e.Descriptor.Digest != image.ManifestDigest).Select(e => e.Descriptor).ToList();
            entries.RemoveAll(e => (e.Name is not null && names.Contains(e.Name)) || (e.Name is null && e.Descriptor.Digest == image.ManifestDigest));
            // An image whose last name moved to another stays findable by digest, like an engine's untagged image.
            foreach (var old in displaced.Where(d => !entries.Any(e => e.Descriptor.Digest == d.Digest)).DistinctBy(d => d.Digest))
            {
                entries.Add(new IndexEntry(old, null));
            }

            var plain = image.Manifest with { Annotations = null };
            if (names.Count == 0)
            {
                if (!entries.Any(e => e.Descriptor.Digest == image.ManifestDigest))
                {
                    entries.Add(new IndexEntry(plain, null));
                }
            }
            else
            {
                entries.AddRange(names.Select(n => new IndexEntry(plain, n)));
            }

            WriteIndex(entries);
        }

        return await FindAsync(image.ManifestDigest, cancellationToken).ConfigureAwait(false)
            ?? throw new StorageException(StorageErrorCodes.StoreNotWritable, $"image {image.ManifestDigest} was committed to {Root} but does not read back whole; another process is changing the store's files.");
    }

    private async Task<List<IndexEntry>> ReadIndexAsync(CancellationToken cancellationToken)
    {
        if (!File.Exists(IndexPath))
        {
            return [];
        }

        byte[] bytes = await File.ReadAllBytesAsync(IndexPath, cancellationToken).ConfigureAwait(false);
        try
        {
            using var doc = JsonDocument.Parse(bytes);
            if (doc.RootElement.ValueKind != JsonValueKind.Object)
                throw new StorageException(StorageErrorCodes.StoreIndexCorrupt, $"the local content store's index {IndexPath} is not a JSON object");
            var entries = new List<IndexEntry>();
            if (doc.RootElement.TryGetProperty("manifests", out var manifests) && manifests.ValueKind == JsonValueKind.Array)
            {
                int i = 0;
                foreach (var m in manifests.EnumerateArray())
                {
                    var descriptor = Descriptor.Read(m, $"{IndexPath}/manifests/{i++}");
                    string? name = descriptor.Annotations is { } a && a.TryGetValue(OciImageLayout.ContainerdImageNameAnnotation, out var n) ? n : null;
                    entries.Add(new IndexEntry(descriptor with { Annotations = null }, name));
                }
            }

            return entries;
        }
        catch (JsonException e)
        {
            // Written whole and renamed over (WriteIndex), so an empty or cut file was damaged from outside.
            throw new StorageException(StorageErrorCodes.StoreIndexCorrupt,
                bytes.Length == 0 ? $"the local content store's index {IndexPath} is empty" : $"the local content store's index {IndexPath} is not valid JSON ({e.Message})", e);
        }
        catch (OciException e)
        {
            throw new StorageException(StorageErrorCodes.StoreIndexCorrupt, $"the local content store's index is damaged: {e.Message}", e);
        }
    }

    private void WriteIndex(List<IndexEntry> entries)
    {
        byte[] index = LayoutDocuments.BuildIndex(entries
            .OrderBy(e => e.Name ?? "\uffff", StringComparer.Ordinal)
            .ThenBy(e => e.Descriptor.Digest.Value, StringComparer.Ordinal)
            .Select(e => e.Descriptor with { Annotations = LayoutDocuments.NameAnnotations(e.Name) }));

        // Written beside, on disk, and renamed over (the directory flushed after), so a crash never leaves a half-written index.
        AtomicFile.Write(IndexPath, index, AtomicFile.ReadableByAll);
    }

    private async Task<IDisposable> AcquireLockAsync(CancellationToken cancellationToken)
    {
        string path = Path.Combine(Root, LockFileName);
        var deadline = DateTime.UtcNow + LockTimeout;
        while (true)
        {
            try
            {
                return new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
            }
            catch (IOException) when (DateTime.UtcNow < deadline)
            {
                await Task.Delay(20, cancellationToken).ConfigureAwait(false);
            }
            catch (IOException e)
            {
                throw new StorageException(StorageErrorCodes.PeerUnavailable, $"the local content store {Root} stayed locked for {LockTimeout.TotalSeconds:0} s by another infra process.", e,
                    $"wait for the other infra process to finish, or remove {path} if none runs");
            }
        }
    }

    private sealed record IndexEntry(Descriptor Descriptor, string? Name);
}
