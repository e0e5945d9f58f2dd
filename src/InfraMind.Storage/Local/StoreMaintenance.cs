using System.Globalization;
using InfraMind.Oci;
using InfraMind.Oci.Layout;

namespace InfraMind.Storage;

/// <summary>What <see cref="LocalContentStore.RepairAsync"/> did.</summary>
/// <param name="IndexRebuilt">The index was unreadable and was rebuilt from the blobs (the old one kept beside it as <see cref="IndexBackup"/>).</param>
/// <param name="Images">Images the index lists now.</param>
/// <param name="EntriesDropped">Index entries removed because their image is no longer whole.</param>
/// <param name="BlobsRemoved">Blobs that did not hash to their name (or had no valid name), removed.</param>
/// <param name="StagingAreasRemoved">Staging areas of transfers that died, removed.</param>
public sealed record StoreRepair(bool IndexRebuilt, string? IndexBackup, int Images, int EntriesDropped, int BlobsRemoved, int StagingAreasRemoved);

/// <summary>What <see cref="LocalContentStore.ForgetAsync"/> removed: the blobs (manifest, config, layers) and their bytes.</summary>
public sealed record StoreForget(IReadOnlyList<Digest> Blobs, long Bytes)
{
    public static readonly StoreForget Nothing = new([], 0);
}

public sealed partial class LocalContentStore
{
    /// <summary>
    /// Makes the store whole again (<c>infra doctor --repair</c>): removes staging areas no live process owns, hashes
    /// every blob and removes those that do not match their name, then keeps the index entries whose images are still
    /// whole — or, when index.json is unreadable (empty, cut short, edited), moves it aside and rebuilds it from the
    /// blobs: every image manifest whose config and layers are present is listed again, by digest (names cannot be
    /// recovered from blobs; they come back as images are pushed or pulled again).
    /// </summary>
    public async Task<StoreRepair> RepairAsync(CancellationToken cancellationToken)
    {
        EnsureCreated();
        using (await AcquireLockAsync(cancellationToken).ConfigureAwait(false))
        {
            int staging = StoreStaging.Sweep(StagingRoot);
            int removed = 0;
            var manifests = new List<Descriptor>();
            foreach (var path in Directory.EnumerateFiles(BlobDirectory))
            {
                var name = Path.GetFileName(path);
                if (!Digest.TryParse(Digest.Sha256Prefix + name, out var digest))
                {
                    StoreBlobs.Remove(path);
                    removed++;
                    continue;
                }

                long size = new FileInfo(path).Length;
                if (!await StoreBlobs.CheckAsync(path, new Descriptor(MediaTypes.OciLayerTar, digest, size), cancellationToken).ConfigureAwait(false))
                {
                    removed++;
                    continue;
                }

                if (size <= ArchiveLimits.MaxManifestBytes && await ManifestTypeAsync(path, digest, cancellationToken).ConfigureAwait(false) is { } mediaType)
                {
                    manifests.Add(new Descriptor(mediaType, digest, size));
                }
            }

            List<IndexEntry> entries;
            string? backup = null;
            try
            {
                entries = await ReadIndexAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (StorageException e) when (e.Code == StorageErrorCodes.StoreIndexCorrupt)
            {
                backup = IndexPath + ".damaged-" + DateTime.UtcNow.ToString("yyyyMMddTHHmmssZ", CultureInfo.InvariantCulture);
                File.Move(IndexPath, backup, overwrite: true);
                entries = [.. manifests.Select(m => new IndexEntry(m, null))];
            }

            var whole = new List<IndexEntry>();
            foreach (var entry in entries)
            {
                if (await OpenAsync(entry.Descriptor, [], cancellationToken).ConfigureAwait(false) is not null)
                {
                    whole.Add(entry);
                }
            }

            WriteIndex(whole);
            return new StoreRepair(backup is not null, backup, whole.Select(e => e.Descriptor.Digest).Distinct().Count(), entries.Count - whole.Count, removed, staging);
        }
    }

    /// <summary>
    /// Forgets a nameless image kept here as a copy of fetched content (what a node fetched for a version it no longer
    /// runs): its index entry goes, then every blob of it that no other image in the store uses. An image with a name
    /// (an operator's push, a pull by name) is not a copy: it stays, and so does everything when another entry is not
    /// an image manifest whose blobs can be told (nothing is removed on a guess). Returns the blobs removed and their
    /// bytes; <see cref="StoreForget.Nothing"/> when nothing went. A crash between the index and the blobs leaves blobs no image names, never an image without its blobs.
    /// </summary>
    public async Task<StoreForget> ForgetAsync(Digest manifestDigest, CancellationToken cancellationToken)
    {
        EnsureCreated();
        using (await AcquireLockAsync(cancellationToken).ConfigureAwait(false))
        {
            var entries = await ReadIndexAsync(cancellationToken).ConfigureAwait(false);
            var forgotten = entries.Where(e => e.Descriptor.Digest == manifestDigest).ToList();
            if (forgotten.Count == 0 || forgotten.Any(e => e.Name is not null) || await BlobsOfAsync(manifestDigest, cancellationToken).ConfigureAwait(false) is not { } blobs)
            {
                return StoreForget.Nothing;
            }

            var remaining = entries.Where(e => e.Descriptor.Digest != manifestDigest).ToList();
            var used = new HashSet<Digest>();
            foreach (var digest in remaining.Select(e => e.Descriptor.Digest).Distinct())
            {
                if (await BlobsOfAsync(digest, cancellationToken).ConfigureAwait(false) is not { } theirs)
                {
                    return StoreForget.Nothing;
                }

                used.Add(digest);
                used.UnionWith(theirs);
            }

            WriteIndex(remaining);
            long freed = 0;
            var removed = new List<Digest>();
            foreach (var digest in blobs.Append(manifestDigest).Where(d => !used.Contains(d)).Distinct())
            {
                var path = BlobPath(digest);
                if (!File.Exists(path)) continue;
                freed += new FileInfo(path).Length;
                StoreBlobs.Remove(path);
                removed.Add(digest);
            }

            return new StoreForget(removed, freed);
        }
    }

    /// <summary>The config and layer digests of an image manifest in the store; null when it is missing, too large or no image manifest.</summary>
    private async Task<IReadOnlyList<Digest>?> BlobsOfAsync(Digest manifestDigest, CancellationToken cancellationToken)
    {
        var path = BlobPath(manifestDigest);
        if (!File.Exists(path) || new FileInfo(path).Length > ArchiveLimits.MaxManifestBytes)
        {
            return null;
        }

        try
        {
            var manifest = ImageManifest.Parse(await File.ReadAllBytesAsync(path, cancellationToken).ConfigureAwait(false), $"manifest {manifestDigest} in the local store");
            return [manifest.Config.Digest, .. manifest.Layers.Select(l => l.Digest)];
        }
        catch (InfraMindException)
        {
            return null;
        }
    }

    /// <summary>The media type of the blob when it is an image manifest (OCI or Docker schema 2), else null.</summary>
    private static async Task<string?> ManifestTypeAsync(string path, Digest digest, CancellationToken cancellationToken)
    {
        try
        {
            var manifest = ImageManifest.Parse(await File.ReadAllBytesAsync(path, cancellationToken).ConfigureAwait(false), $"blob {digest}");
            return MediaTypes.IsManifest(manifest.MediaType) ? manifest.MediaType : null;
        }
        catch (InfraMindException)
        {
            return null; // a layer, a config, an index: not an image of its own
        }
    }

    /// <summary>
    /// A store of its own inside this one's staging area, for content that may never be kept (what a registry fetches
    /// while it decides on a publish): removed with everything in it when disposed, and by the staging sweep if the
    /// process dies. <see cref="AdoptAsync"/> moves an image of it into this store, nameless.
    /// </summary>
    /// <summary>The bytes of every blob the store holds (what it takes on disk, staging aside).</summary>
    public long BlobBytes()
    {
        var directory = new DirectoryInfo(BlobDirectory);
        return directory.Exists ? directory.EnumerateFiles().Sum(f => f.Length) : 0;
    }

    /// <summary>The bytes <see cref="AdoptAsync"/> of <paramref name="image"/> would add: its blobs this store does not hold yet.</summary>
    public long MissingBytes(ImageArchive image)
    {
        ArgumentNullException.ThrowIfNull(image);
        return image.Blobs.Append(image.Image.Manifest).DistinctBy(b => b.Digest).Where(b => !HasBlob(b.Digest)).Sum(b => b.Size);
    }

    public ScratchStore CreateScratch()
    {
        EnsureCreated();
        return new ScratchStore(BeginStaging());
    }

    /// <summary>
    /// Moves <paramref name="image"/> (from a <see cref="ScratchStore"/> of this store, which cannot use it afterwards)
    /// in, without names; its blobs were verified there.
    /// </summary>
    public async Task<ImageArchive> AdoptAsync(ImageArchive image, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(image);
        using var staging = BeginStaging();
        foreach (var blob in image.Blobs.Append(image.Image.Manifest))
        {
            string target = staging.BlobPath(blob.Digest);
            if (!File.Exists(target))
            {
                // Same file system (the scratch store lives in this store's staging area): a rename, not a copy.
                File.Move(image.BlobPath(blob.Digest), target);
            }
        }

        return await staging.CommitAsync(ImageArchive.Nameless(image.Image), verify: false, cancellationToken).ConfigureAwait(false);
    }
}

/// <summary>A throwaway store (<see cref="LocalContentStore.CreateScratch"/>); dispose to remove it.</summary>
public sealed class ScratchStore : IDisposable
{
    private readonly StoreStaging _area;

    internal ScratchStore(StoreStaging area)
    {
        _area = area;
        Store = new LocalContentStore(Path.Combine(area.Directory, "store"));
    }

    public LocalContentStore Store { get; }

    public void Dispose() => _area.Dispose();
}
