using System.Formats.Tar;
using System.Globalization;
using System.Text.Json;

namespace InfraMind.Oci.Layout;

/// <summary>
/// Reads a <c>docker save</c> archive (the legacy format with manifest.json and &lt;id&gt;/layer.tar, the OCI-based
/// one of Docker 25+, or an OCI-only archive) into an OCI image layout directory, rebuilding each image manifest.
/// Every layer is stored as deterministic gzip (<see cref="LayerCompression"/>), whatever form the archive held it in,
/// and its tar is checked against the config's diff_id on the way.
/// </summary>
internal static class DockerArchiveImporter
{
    public static async Task<OciLayout> ImportAsync(Stream dockerSave, string layoutDirectory, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(dockerSave);
        string blobs = Path.Combine(layoutDirectory, "blobs", "sha256");
        Directory.CreateDirectory(blobs);
        string spool = Path.Combine(layoutDirectory, ".import-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(spool);
        try
        {
            var archive = await SpoolAsync(dockerSave, spool, cancellationToken).ConfigureAwait(false);
            var sources = archive.Files.TryGetValue("manifest.json", out var manifestFile)
                ? await ReadDockerManifestAsync(manifestFile.Path, cancellationToken).ConfigureAwait(false)
                : archive.Files.TryGetValue("index.json", out var indexFile)
                    ? await ReadOciIndexAsync(indexFile.Path, name => archive.Resolve(name, "blob").Path, cancellationToken).ConfigureAwait(false)
                    : throw new OciException(
                        OciErrorCodes.InvalidDockerArchive,
                        "the archive has neither manifest.json nor index.json, so it is not a 'docker save' archive (or comes from Docker older than 1.10). Create it with 'docker save IMAGE -o FILE'.");

            var images = new List<OciImage>();
            var toPlace = new HashSet<SpooledFile>();
            var compressed = new Dictionary<SpooledFile, CompressedLayer>();
            foreach (var source in sources)
            {
                images.Add(await BuildImageAsync(source, archive, blobs, toPlace, compressed, cancellationToken).ConfigureAwait(false));
            }

            foreach (var file in toPlace)
            {
                File.Move(file.Path, Path.Combine(blobs, file.Digest.Hex), overwrite: true);
            }

            var layout = new OciLayout(layoutDirectory, images);
            await File.WriteAllTextAsync(Path.Combine(layoutDirectory, "oci-layout"), LayoutDocuments.LayoutFileContent, cancellationToken).ConfigureAwait(false);
            await File.WriteAllBytesAsync(Path.Combine(layoutDirectory, "index.json"), LayoutDocuments.BuildIndex(images.Select(i => i.Manifest)), cancellationToken).ConfigureAwait(false);
            return layout;
        }
        finally
        {
            ScratchDirectory.Delete(spool);
        }
    }

    // The image manifest is rebuilt from manifest.json, the config and the layers rather than copied, so the same
    // image gives the same manifest digest whichever Docker version saved it.
    private static async Task<OciImage> BuildImageAsync(
        ImageSource source, SpooledArchive archive, string blobs, HashSet<SpooledFile> toPlace, Dictionary<SpooledFile, CompressedLayer> compressed, CancellationToken cancellationToken)
    {
        string where = source.Where;
        var configFile = archive.Resolve(source.Config, "config");
        if (configFile.Gzip is not null)
        {
            throw new OciException(OciErrorCodes.InvalidDockerArchive, $"{where}: the config '{source.Config}' is a tar, not a JSON image config; the archive is inconsistent. Save the image again.");
        }

        var config = new Descriptor(MediaTypes.OciConfig, configFile.Digest, configFile.Size);
        var diffIds = await LayoutDocuments.ReadDiffIdsAsync(configFile.Path, ImageInput.DockerArchive, cancellationToken).ConfigureAwait(false);

        if (diffIds.Count != source.Layers.Count)
        {
            throw new OciException(
                OciErrorCodes.InvalidDockerArchive,
                $"{where}: the config lists {diffIds.Count} layer diff_ids but {source.Layers.Count} layers are listed; the archive is inconsistent. Save the image again.");
        }

        var layers = new List<Descriptor>();
        foreach (string layerName in source.Layers)
        {
            var layerFile = archive.Resolve(layerName, "layer");
            if (!compressed.TryGetValue(layerFile, out var layer))
            {
                if (layerFile.Gzip is { } gzip)
                {
                    File.Move(layerFile.Path, Path.Combine(blobs, gzip.Digest.Hex), overwrite: true);
                    layer = new CompressedLayer(gzip, layerFile.Digest, MediaTypes.OciLayerTar);
                }
                else
                {
                    layer = await CompressLayerAsync(layerFile, blobs, $"{where}: layer {layers.Count} ('{layerName}')", cancellationToken).ConfigureAwait(false);
                }

                compressed[layerFile] = layer;
            }

            if (layer.DiffId.Value != diffIds[layers.Count])
            {
                throw LayerContent.Mismatch($"{where}: layer {layers.Count} ('{layerName}')", new Descriptor(layer.SourceMediaType, layerFile.Digest, layerFile.Size), diffIds[layers.Count], layer.DiffId);
            }

            layers.Add(layer.Descriptor);
        }

        var tags = source.Tags;
        toPlace.Add(configFile);
        byte[] manifestBytes = LayoutDocuments.BuildManifest(config, layers);
        var manifestDigest = Digest.Compute(manifestBytes);
        await File.WriteAllBytesAsync(Path.Combine(blobs, manifestDigest.Hex), manifestBytes, cancellationToken).ConfigureAwait(false);
        var manifest = new Descriptor(MediaTypes.OciManifest, manifestDigest, manifestBytes.Length, LayoutDocuments.NameAnnotations(tags.Count > 0 ? tags[0] : null));
        return new OciImage(manifest, config, layers, tags);
    }

    // Every regular file goes to the spool directory (hashed on the way); links are remembered and followed later.
    private static async Task<SpooledArchive> SpoolAsync(Stream dockerSave, string spool, CancellationToken cancellationToken)
    {
        var archive = new SpooledArchive();
        int counter = 0;
        int entries = 0;
        await using var reader = new TarReader(dockerSave, leaveOpen: true);
        TarEntry? entry;
        while ((entry = await TarInput.NextEntryAsync(reader, "docker save archive", ImageInput.DockerArchive, cancellationToken).ConfigureAwait(false)) is not null)
        {
            TarInput.CountEntry(ref entries, "docker save archive");
            string name = TarInput.NormalizeEntryName(entry.Name);
            if (entry.EntryType is TarEntryType.SymbolicLink)
            {
                archive.Links[name] = TarInput.NormalizeEntryName(TarInput.CombineLink(name, entry.LinkName));
            }
            else if (entry.EntryType is TarEntryType.HardLink)
            {
                archive.Links[name] = TarInput.NormalizeEntryName(entry.LinkName);
            }
            else if (entry.EntryType is TarEntryType.RegularFile or TarEntryType.V7RegularFile)
            {
                // An empty file has no data stream: it is empty content, not nothing.
                var file = await SpoolFileAsync(entry.DataStream ?? Stream.Null, Path.Combine(spool, (counter++).ToString(CultureInfo.InvariantCulture)), cancellationToken).ConfigureAwait(false);
                CheckBlobName(name, file.Digest);
                archive.Files[name] = file;
            }
        }

        return archive;
    }

    /// <summary>A file or link named blobs/sha256/HEX must come to content of that digest.</summary>
    private static void CheckBlobName(string name, Digest content)
    {
        if (name.StartsWith("blobs/sha256/", StringComparison.Ordinal)
            && Digest.TryParse(Digest.Sha256Prefix + name["blobs/sha256/".Length..], out var named)
            && named != content)
        {
            throw new DigestMismatchException(named, content, $"'{name}' of the docker save archive");
        }
    }

    /// <summary>
    /// Spools one file of the archive. A plain tar (a layer: ustar magic in its first header) is gzip-compressed as it
    /// arrives, so compression overlaps the engine's save and the plain tar never touches the disk; its digest and
    /// size are still the plain tar's (the diff_id, and the name Docker 25+ gives the blob). Anything else is kept as is.
    /// </summary>
    private static async Task<SpooledFile> SpoolFileAsync(Stream data, string path, CancellationToken cancellationToken)
    {
        byte[] head = new byte[512];
        int got = await data.ReadAtLeastAsync(head, head.Length, throwOnEndOfStream: false, cancellationToken).ConfigureAwait(false);
        var content = new PrefixedStream(head.AsMemory(0, got), data);
        if (got < head.Length || !head.AsSpan(257, 5).SequenceEqual("ustar"u8))
        {
            var (digest, size) = await TarInput.SpoolAsync(content, path, cancellationToken).ConfigureAwait(false);
            return new SpooledFile(path, digest, size);
        }

        (Digest Compressed, long CompressedSize, Digest Uncompressed, long UncompressedSize) r;
        var target = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16, FileOptions.Asynchronous);
        await using (target.ConfigureAwait(false))
        {
            r = await LayerCompression.GzipAsync(content, target, cancellationToken).ConfigureAwait(false);
        }

        return new SpooledFile(path, r.Uncompressed, r.UncompressedSize, new Descriptor(MediaTypes.OciLayerTarGzip, r.Compressed, r.CompressedSize));
    }

    private static async Task<List<ImageSource>> ReadDockerManifestAsync(string path, CancellationToken cancellationToken)
    {
        using var json = await LayoutDocuments.ReadJsonFileAsync(path, "manifest.json", ImageInput.DockerArchive, ArchiveLimits.MaxManifestBytes, cancellationToken, JsonValueKind.Array).ConfigureAwait(false);
        if (json.RootElement.GetArrayLength() == 0)
        {
            throw new OciException(OciErrorCodes.InvalidDockerArchive, "manifest.json of the docker save archive is not a non-empty JSON array.");
        }

        if (json.RootElement.GetArrayLength() > ArchiveLimits.MaxImages)
        {
            throw new OciException(OciErrorCodes.ArchiveLimit, $"manifest.json lists {json.RootElement.GetArrayLength()} images; an archive may hold at most {ArchiveLimits.MaxImages}.");
        }

        var sources = new List<ImageSource>();
        int index = 0;
        foreach (var item in json.RootElement.EnumerateArray())
        {
            string where = $"manifest.json/{index++}";
            if (item.ValueKind != JsonValueKind.Object)
            {
                throw new OciException(OciErrorCodes.InvalidDockerArchive, $"{where} is not a JSON object.");
            }

            var c = JsonMember.Of(item, "Config", JsonValueKind.String);
            string config = c.ValueKind == JsonValueKind.String
                ? c.GetString()!
                : throw new OciException(OciErrorCodes.InvalidDockerArchive, $"{where}/Config is missing.");
            var l = JsonMember.Of(item, "Layers", JsonValueKind.Array);
            if (l.ValueKind == JsonValueKind.Array)
            {
                LayoutVerifier.CheckLayerCount(l.GetArrayLength(), where);
            }

            var layers = l.ValueKind == JsonValueKind.Array
                ? l.EnumerateArray().Select((x, j) => x.ValueKind == JsonValueKind.String
                    ? x.GetString()!
                    : throw new OciException(OciErrorCodes.InvalidDockerArchive, $"{where}/Layers/{j} is a JSON {LayoutDocuments.Kind(x.ValueKind)}, not a file name.")).ToList()
                : [];
            var t = JsonMember.Of(item, "RepoTags", JsonValueKind.Array);
            var tags = t.ValueKind == JsonValueKind.Array
                ? t.EnumerateArray().Where(x => x.ValueKind == JsonValueKind.String).Select(x => x.GetString()!).ToList()
                : [];
            // The same image listed twice is built once.
            if (!sources.Any(s => s.Config == config && s.Layers.SequenceEqual(layers)))
            {
                sources.Add(new ImageSource(where, config, layers, tags));
            }
        }

        return sources;
    }

    // An archive with only an OCI index (containerd, buildx --output type=oci, or a future Docker without the legacy
    // manifest.json): follow index → manifest → config/layers by digest.
    private static async Task<List<ImageSource>> ReadOciIndexAsync(string indexPath, Func<string, string> blobPath, CancellationToken cancellationToken)
    {
        var sources = new List<ImageSource>();
        var seen = new HashSet<Digest>();
        await WalkAsync(indexPath, "index.json", 0).ConfigureAwait(false);
        return sources;

        // The walk of LayoutVerifier, under the same bounds: each descriptor read once, entries, images, depth capped.
        async Task WalkAsync(string path, string where, int depth)
        {
            using var index = await LayoutDocuments.ReadJsonFileAsync(path, where, ImageInput.DockerArchive, ArchiveLimits.MaxManifestBytes, cancellationToken).ConfigureAwait(false);
            var manifests = JsonMember.Of(index.RootElement, "manifests", JsonValueKind.Array);
            if (manifests.ValueKind != JsonValueKind.Array)
            {
                throw new OciException(OciErrorCodes.InvalidDockerArchive, $"{where}/manifests is missing or not an array.");
            }

            LayoutVerifier.CheckIndexEntries(manifests.GetArrayLength(), where);
            int i = 0;
            foreach (var m in manifests.EnumerateArray())
            {
                string at = $"{where}/manifests/{i++}";
                var descriptor = Descriptor.Read(m, at);
                bool isIndex = MediaTypes.IsIndex(descriptor.MediaType);
                if (!isIndex && !MediaTypes.IsManifest(descriptor.MediaType) || !seen.Add(descriptor.Digest))
                {
                    continue;
                }

                LayoutVerifier.CheckDocumentSize(descriptor, at);
                string blob = blobPath("blobs/sha256/" + descriptor.Digest.Hex);
                if (isIndex)
                {
                    if (depth >= ArchiveLimits.MaxIndexDepth)
                    {
                        throw new OciException(OciErrorCodes.ArchiveLimit, $"{at}: indexes nest deeper than {ArchiveLimits.MaxIndexDepth} levels below index.json.");
                    }

                    await WalkAsync(blob, $"index {descriptor.Digest}", depth + 1).ConfigureAwait(false);
                    continue;
                }

                if (sources.Count >= ArchiveLimits.MaxImages)
                {
                    throw new OciException(OciErrorCodes.ArchiveLimit, $"{at}: the archive holds more than {ArchiveLimits.MaxImages} image manifests.");
                }

                using var manifest = await LayoutDocuments.ReadJsonFileAsync(blob, $"manifest {descriptor.Digest}", ImageInput.DockerArchive, ArchiveLimits.MaxManifestBytes, cancellationToken).ConfigureAwait(false);
                var config = Descriptor.Read(JsonMember.Of(manifest.RootElement, "config", JsonValueKind.Object), $"manifest {descriptor.Digest}/config");
                var ls = JsonMember.Of(manifest.RootElement, "layers", JsonValueKind.Array);
                bool hasLayers = ls.ValueKind == JsonValueKind.Array;
                if (hasLayers)
                {
                    LayoutVerifier.CheckLayerCount(ls.GetArrayLength(), $"manifest {descriptor.Digest}");
                }

                var layers = hasLayers
                    ? ls.EnumerateArray().Select((l, j) => "blobs/sha256/" + Descriptor.Read(l, $"manifest {descriptor.Digest}/layers/{j}").Digest.Hex).ToList()
                    : [];
                sources.Add(new ImageSource(at, "blobs/sha256/" + config.Digest.Hex, layers, LayoutDocuments.NamesOf(descriptor)));
            }
        }
    }

    /// <summary>
    /// The layer as the layout stores it: its tar (decompressed first when the archive holds it gzip or zstd, within
    /// <see cref="ArchiveLimits.MaxDecompressedLayerBytes"/>) gzip-compressed by <see cref="LayerCompression"/>, so
    /// the same image gives the same bytes whether the engine saved its layers plain or compressed.
    /// </summary>
    private static async Task<CompressedLayer> CompressLayerAsync(SpooledFile layerFile, string blobs, string where, CancellationToken cancellationToken)
    {
        string mediaType = await SniffLayerMediaTypeAsync(layerFile.Path, cancellationToken).ConfigureAwait(false);
        string partial = Path.Combine(blobs, ".layer-" + Guid.NewGuid().ToString("N"));
        try
        {
            (Digest Compressed, long CompressedSize, Digest Uncompressed, long UncompressedSize) result;
            var source = new FileStream(layerFile.Path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, FileOptions.Asynchronous | FileOptions.SequentialScan);
            var tar = LayerContent.OpenTar(source, mediaType, layerFile.Size, where);
            await using (tar.ConfigureAwait(false))
            {
                var target = new FileStream(partial, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16, FileOptions.Asynchronous);
                await using (target.ConfigureAwait(false))
                {
                    result = await LayerCompression.GzipAsync(tar, target, cancellationToken).ConfigureAwait(false);
                }
            }

            File.Move(partial, Path.Combine(blobs, result.Compressed.Hex), overwrite: true);
            return new CompressedLayer(new Descriptor(MediaTypes.OciLayerTarGzip, result.Compressed, result.CompressedSize), result.Uncompressed, mediaType);
        }
        finally
        {
            File.Delete(partial);
        }
    }

    private static async Task<string> SniffLayerMediaTypeAsync(string path, CancellationToken cancellationToken)
    {
        byte[] head = new byte[4];
        var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1, FileOptions.Asynchronous);
        await using (file.ConfigureAwait(false))
        {
            int n = await file.ReadAtLeastAsync(head, head.Length, throwOnEndOfStream: false, cancellationToken).ConfigureAwait(false);
            if (n >= 2 && head[0] == 0x1f && head[1] == 0x8b)
            {
                return MediaTypes.OciLayerTarGzip;
            }

            if (n == 4 && head[0] == 0x28 && head[1] == 0xb5 && head[2] == 0x2f && head[3] == 0xfd)
            {
                return MediaTypes.OciLayerTarZstd;
            }
        }

        return MediaTypes.OciLayerTar;
    }

    /// <param name="Digest">Digest of the file as the archive holds it.</param>
    /// <param name="Gzip">For a plain tar compressed while spooled: the gzip blob at <paramref name="Path"/> (the plain tar is not kept).</param>
    private sealed record SpooledFile(string Path, Digest Digest, long Size, Descriptor? Gzip = null);

    /// <param name="SourceMediaType">How the archive held the layer (plain, gzip or zstd), for error messages.</param>
    private sealed record CompressedLayer(Descriptor Descriptor, Digest DiffId, string SourceMediaType);

    private sealed record ImageSource(string Where, string Config, List<string> Layers, List<string> Tags);

    /// <summary>The archive's files spooled to disk by normalized name, and its links, which <see cref="Resolve"/> follows.</summary>
    private sealed class SpooledArchive
    {
        public Dictionary<string, SpooledFile> Files { get; } = new(StringComparer.Ordinal);

        public Dictionary<string, string> Links { get; } = new(StringComparer.Ordinal);

        /// <summary>
        /// The file <paramref name="name"/> names, through at most 15 links. Each name on the way that is a blob's
        /// (blobs/sha256/HEX) must be the digest of what it comes to, as a file of that name must (SpoolAsync): a link
        /// there could otherwise make a blob's name stand for other bytes.
        /// </summary>
        public SpooledFile Resolve(string name, string what)
        {
            string current = TarInput.NormalizeEntryName(name);
            List<string>? linked = null;
            for (int hops = 0; hops < 16; hops++)
            {
                if (Files.TryGetValue(current, out var file))
                {
                    foreach (var link in linked ?? [])
                    {
                        CheckBlobName(link, file.Digest);
                    }

                    return file;
                }

                (linked ??= []).Add(current);
                if (!Links.TryGetValue(current, out current!))
                {
                    break;
                }
            }

            throw new OciException(
                OciErrorCodes.InvalidDockerArchive,
                $"the docker save archive names {what} '{name}' but does not contain it; the archive is truncated. Save the image again with 'docker save IMAGE -o FILE'.");
        }
    }
}
