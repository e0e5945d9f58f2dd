using System.Buffers;
using System.Formats.Tar;
using System.Security.Cryptography;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace InfraMind.Oci;

/// <summary>
/// Converts <c>docker save</c> archives into OCI image layouts, writes layouts as deterministic tars that both OCI
/// tools and <c>docker load</c> (20.10 and newer) accept, and reads such tars back with every blob verified.
/// </summary>
public static class OciImageLayout
{
    public const string RefNameAnnotation = "org.opencontainers.image.ref.name";

    /// <summary>Docker 25+ names images loaded from an OCI layout by this annotation.</summary>
    public const string ContainerdImageNameAnnotation = "io.containerd.image.name";

    internal const string LayoutFileContent = "{\"imageLayoutVersion\":\"1.0.0\"}";

    // Small JSON documents (index, manifest, config) are read whole; this bounds memory against hostile archives.
    private const long MaxMetadataSize = 16L << 20;

    private static readonly JsonWriterOptions CanonicalJson = new()
    {
        // The default encoder writes '+' as \u002B, which no other tool does; media types are full of '+'.
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        Indented = false,
    };

    /// <summary>
    /// Converts a <c>docker save</c> archive into a deterministic OCI image layout tar written to
    /// <paramref name="layoutTar"/>. Returns the images; their manifest digests are the container hashes.
    /// Needs temporary disk space of about the archive's size.
    /// </summary>
    public static async Task<IReadOnlyList<OciImage>> ConvertDockerArchiveAsync(Stream dockerSave, Stream layoutTar, CancellationToken cancellationToken)
    {
        string work = Path.Combine(Path.GetTempPath(), "inframind-oci-" + Guid.NewGuid().ToString("N"));
        try
        {
            var layout = await ImportDockerArchiveAsync(dockerSave, work, cancellationToken).ConfigureAwait(false);
            await WriteTarAsync(layout, layoutTar, cancellationToken).ConfigureAwait(false);
            return layout.Images;
        }
        finally
        {
            TryDeleteDirectory(work);
        }
    }

    /// <summary>
    /// Reads a <c>docker save</c> archive (the legacy format with manifest.json and &lt;id&gt;/layer.tar, or the
    /// OCI-based one of Docker 25+) and writes an OCI image layout into <paramref name="layoutDirectory"/>.
    /// </summary>
    /// <remarks>
    /// The image manifest is rebuilt from manifest.json, the config and the layers rather than copied, so the same
    /// image gives the same manifest digest whichever Docker version saved it.
    /// </remarks>
    public static async Task<OciLayout> ImportDockerArchiveAsync(Stream dockerSave, string layoutDirectory, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(dockerSave);
        string blobs = Path.Combine(layoutDirectory, "blobs", "sha256");
        Directory.CreateDirectory(blobs);
        string spool = Path.Combine(layoutDirectory, ".import-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(spool);
        try
        {
            var files = new Dictionary<string, SpooledFile>(StringComparer.Ordinal);
            var links = new Dictionary<string, string>(StringComparer.Ordinal);
            int counter = 0;
            await using (var reader = new TarReader(dockerSave, leaveOpen: true))
            {
                TarEntry? entry;
                while ((entry = await NextEntryAsync(reader, "docker save archive", cancellationToken).ConfigureAwait(false)) is not null)
                {
                    string name = NormalizeEntryName(entry.Name);
                    if (entry.EntryType is TarEntryType.SymbolicLink)
                    {
                        links[name] = NormalizeEntryName(CombineLink(name, entry.LinkName));
                    }
                    else if (entry.EntryType is TarEntryType.HardLink)
                    {
                        links[name] = NormalizeEntryName(entry.LinkName);
                    }
                    else if (entry.EntryType is TarEntryType.RegularFile or TarEntryType.V7RegularFile && entry.DataStream is not null)
                    {
                        string path = Path.Combine(spool, (counter++).ToString(System.Globalization.CultureInfo.InvariantCulture));
                        var (digest, size) = await CopyHashingAsync(entry.DataStream, path, cancellationToken).ConfigureAwait(false);
                        if (name.StartsWith("blobs/sha256/", StringComparison.Ordinal)
                            && Digest.TryParse(Digest.Sha256Prefix + name["blobs/sha256/".Length..], out var named)
                            && named != digest)
                        {
                            throw new DigestMismatchException(named, digest, $"'{name}' of the docker save archive");
                        }

                        files[name] = new SpooledFile(path, digest, size);
                    }
                }
            }

            SpooledFile Resolve(string name, string what)
            {
                string current = NormalizeEntryName(name);
                for (int hops = 0; hops < 16; hops++)
                {
                    if (files.TryGetValue(current, out var file))
                    {
                        return file;
                    }

                    if (!links.TryGetValue(current, out current!))
                    {
                        break;
                    }
                }

                throw new OciException(
                    OciErrorCodes.InvalidDockerArchive,
                    $"the docker save archive names {what} '{name}' but does not contain it; the archive is truncated. Save the image again with 'docker save IMAGE -o FILE'.");
            }

            var sources = files.TryGetValue("manifest.json", out var manifestFile)
                ? await ReadDockerManifestAsync(manifestFile.Path, cancellationToken).ConfigureAwait(false)
                : files.TryGetValue("index.json", out var indexFile)
                    ? await ReadOciIndexAsync(indexFile.Path, name => Resolve(name, "blob").Path, cancellationToken).ConfigureAwait(false)
                    : throw new OciException(
                        OciErrorCodes.InvalidDockerArchive,
                        "the archive has neither manifest.json nor index.json, so it is not a 'docker save' archive (or comes from Docker older than 1.10). Create it with 'docker save IMAGE -o FILE'.");

            var images = new List<OciImage>();
            var toPlace = new HashSet<SpooledFile>();
            foreach (var source in sources)
            {
                string where = source.Where;
                var configFile = Resolve(source.Config, "config");
                var config = new Descriptor(MediaTypes.OciConfig, configFile.Digest, configFile.Size);
                var diffIds = await ReadDiffIdsAsync(configFile.Path, OciErrorCodes.InvalidDockerArchive, cancellationToken).ConfigureAwait(false);

                var layers = new List<Descriptor>();
                foreach (string layerName in source.Layers)
                {
                    var layerFile = Resolve(layerName, "layer");
                    string mediaType = await SniffLayerMediaTypeAsync(layerFile.Path, cancellationToken).ConfigureAwait(false);
                    // An uncompressed layer is its own diff: a different digest means the archive mixes images.
                    if (mediaType == MediaTypes.OciLayerTar && layers.Count < diffIds.Count && diffIds[layers.Count] != layerFile.Digest.Value)
                    {
                        throw new OciException(
                            OciErrorCodes.InvalidDockerArchive,
                            $"{where}: layer {layers.Count} ('{layerName}') has digest {layerFile.Digest} but the image config says its diff_id is {diffIds[layers.Count]}; the archive is inconsistent. Save the image again.");
                    }

                    layers.Add(new Descriptor(mediaType, layerFile.Digest, layerFile.Size));
                    toPlace.Add(layerFile);
                }

                if (diffIds.Count != layers.Count)
                {
                    throw new OciException(
                        OciErrorCodes.InvalidDockerArchive,
                        $"{where}: the config lists {diffIds.Count} layer diff_ids but {layers.Count} layers are listed; the archive is inconsistent. Save the image again.");
                }

                var tags = source.Tags;
                toPlace.Add(configFile);
                byte[] manifestBytes = BuildManifest(config, layers);
                var manifestDigest = Digest.Compute(manifestBytes);
                await File.WriteAllBytesAsync(Path.Combine(blobs, manifestDigest.Hex), manifestBytes, cancellationToken).ConfigureAwait(false);
                var manifest = new Descriptor(MediaTypes.OciManifest, manifestDigest, manifestBytes.Length, RefAnnotations(tags));
                images.Add(new OciImage(manifest, config, layers, tags));
            }

            foreach (var file in toPlace)
            {
                File.Move(file.Path, Path.Combine(blobs, file.Digest.Hex), overwrite: true);
            }

            var layout = new OciLayout(layoutDirectory, images);
            await File.WriteAllTextAsync(Path.Combine(layoutDirectory, "oci-layout"), LayoutFileContent, cancellationToken).ConfigureAwait(false);
            await File.WriteAllBytesAsync(Path.Combine(layoutDirectory, "index.json"), BuildIndex(images), cancellationToken).ConfigureAwait(false);
            return layout;
        }
        finally
        {
            TryDeleteDirectory(spool);
        }
    }

    /// <summary>
    /// Writes the layout as a deterministic tar: entries sorted by path, mtime 0, uid/gid 0, no user names,
    /// modes 0755/0644, ustar headers (PAX only for a blob of 8 GiB or more, which ustar cannot describe).
    /// Besides the OCI files it holds the legacy <c>manifest.json</c> and <c>repositories</c> that pre-25 engines
    /// need, so one tar serves <c>docker load</c> on Docker 20.10 and OCI tools alike.
    /// </summary>
    public static async Task WriteTarAsync(OciLayout layout, Stream output, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(layout);
        ArgumentNullException.ThrowIfNull(output);
        var blobs = new SortedSet<string>(StringComparer.Ordinal);
        foreach (var image in layout.Images)
        {
            blobs.Add(image.Manifest.Digest.Hex);
            blobs.Add(image.Config.Digest.Hex);
            foreach (var layer in image.Layers)
            {
                blobs.Add(layer.Digest.Hex);
            }
        }

        await using var writer = new TarWriter(output, TarEntryFormat.Ustar, leaveOpen: true);
        await WriteDirectoryAsync(writer, "blobs/", cancellationToken).ConfigureAwait(false);
        await WriteDirectoryAsync(writer, "blobs/sha256/", cancellationToken).ConfigureAwait(false);
        foreach (string hex in blobs)
        {
            var file = new FileStream(Path.Combine(layout.Directory, "blobs", "sha256", hex), FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, FileOptions.Asynchronous | FileOptions.SequentialScan);
            await using (file.ConfigureAwait(false))
            {
                await WriteFileAsync(writer, "blobs/sha256/" + hex, file, cancellationToken).ConfigureAwait(false);
            }
        }

        await WriteBytesAsync(writer, "index.json", BuildIndex(layout.Images), cancellationToken).ConfigureAwait(false);
        await WriteBytesAsync(writer, "manifest.json", BuildDockerManifest(layout.Images), cancellationToken).ConfigureAwait(false);
        await WriteBytesAsync(writer, "oci-layout", Encoding.UTF8.GetBytes(LayoutFileContent), cancellationToken).ConfigureAwait(false);
        await WriteBytesAsync(writer, "repositories", BuildRepositories(layout.Images), cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Extracts an OCI image layout tar into <paramref name="layoutDirectory"/>, verifying every blob against the
    /// digest in its name while it is written, then the index → manifest → config/layers chain (presence, sizes,
    /// media types). Throws <see cref="DigestMismatchException"/> or <see cref="OciException"/> (IM40xx).
    /// </summary>
    public static async Task<OciLayout> ExtractAsync(Stream layoutTar, string layoutDirectory, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(layoutTar);
        string blobs = Path.Combine(layoutDirectory, "blobs", "sha256");
        Directory.CreateDirectory(blobs);
        var verified = new HashSet<Digest>();
        await using (var reader = new TarReader(layoutTar, leaveOpen: true))
        {
            TarEntry? entry;
            while ((entry = await NextEntryAsync(reader, "OCI layout tar", cancellationToken).ConfigureAwait(false)) is not null)
            {
                if (entry.EntryType is not (TarEntryType.RegularFile or TarEntryType.V7RegularFile) || entry.DataStream is null)
                {
                    continue;
                }

                string name = NormalizeEntryName(entry.Name);
                if (name is "oci-layout" or "index.json")
                {
                    if (entry.Length > MaxMetadataSize)
                    {
                        throw new OciException(OciErrorCodes.InvalidLayout, $"{name} in the layout tar is {entry.Length} bytes; that is not an OCI layout file.");
                    }

                    var target = File.Create(Path.Combine(layoutDirectory, name));
                    await using (target.ConfigureAwait(false))
                    {
                        await entry.DataStream.CopyToAsync(target, cancellationToken).ConfigureAwait(false);
                    }
                }
                else if (name.StartsWith("blobs/sha256/", StringComparison.Ordinal))
                {
                    string hex = name["blobs/sha256/".Length..];
                    if (!Digest.TryParse(Digest.Sha256Prefix + hex, out var expected))
                    {
                        throw new OciException(OciErrorCodes.InvalidLayout, $"the layout tar holds '{name}', which is not named by a sha256 digest.");
                    }

                    string final = Path.Combine(blobs, hex);
                    string partial = final + ".partial";
                    var (actual, _) = await CopyHashingAsync(entry.DataStream, partial, cancellationToken).ConfigureAwait(false);
                    if (actual != expected)
                    {
                        File.Delete(partial);
                        throw new DigestMismatchException(expected, actual, $"blob '{name}' of the layout tar");
                    }

                    File.Move(partial, final, overwrite: true);
                    verified.Add(expected);
                }
            }
        }

        // Blobs just written were hashed on the way in; anything else the directory already held is hashed now.
        return await OpenAsync(layoutDirectory, verified, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Opens an OCI image layout directory, verifying every blob it references and the manifest chain.</summary>
    public static Task<OciLayout> OpenAsync(string layoutDirectory, CancellationToken cancellationToken) =>
        OpenAsync(layoutDirectory, new HashSet<Digest>(), cancellationToken);

    private static async Task<OciLayout> OpenAsync(string layoutDirectory, HashSet<Digest> verified, CancellationToken cancellationToken)
    {
        string layoutFile = Path.Combine(layoutDirectory, "oci-layout");
        if (!File.Exists(layoutFile))
        {
            throw new OciException(OciErrorCodes.InvalidLayout, $"'{layoutDirectory}' has no oci-layout file, so it is not an OCI image layout. Export one with 'infra build' or convert 'docker save' output.");
        }

        using (var layoutDoc = await ReadJsonFileAsync(layoutFile, "oci-layout", OciErrorCodes.InvalidLayout, cancellationToken).ConfigureAwait(false))
        {
            if (!layoutDoc.RootElement.TryGetProperty("imageLayoutVersion", out var v) || v.GetString() != "1.0.0")
            {
                throw new OciException(OciErrorCodes.InvalidLayout, "oci-layout must say {\"imageLayoutVersion\":\"1.0.0\"}; this layout has another version that InfraMind does not read.");
            }
        }

        string indexFile = Path.Combine(layoutDirectory, "index.json");
        if (!File.Exists(indexFile))
        {
            throw new OciException(OciErrorCodes.InvalidLayout, $"'{layoutDirectory}' has no index.json; the layout is incomplete.");
        }

        var layout = new OciLayout(layoutDirectory, []);
        var images = new List<OciImage>();
        using (var index = await ReadJsonFileAsync(indexFile, "index.json", OciErrorCodes.InvalidLayout, cancellationToken).ConfigureAwait(false))
        {
            await CollectImagesAsync(layout, index.RootElement, "index.json", images, verified, depth: 0, cancellationToken).ConfigureAwait(false);
        }

        if (images.Count == 0)
        {
            throw new OciException(OciErrorCodes.InvalidLayout, "index.json of the layout lists no image manifest.");
        }

        return layout with { Images = images };
    }

    private static async Task CollectImagesAsync(OciLayout layout, JsonElement index, string where, List<OciImage> images, HashSet<Digest> verified, int depth, CancellationToken cancellationToken)
    {
        if (!index.TryGetProperty("manifests", out var manifests) || manifests.ValueKind != JsonValueKind.Array)
        {
            throw new OciException(OciErrorCodes.InvalidLayout, $"{where}/manifests is missing or not an array.");
        }

        int i = 0;
        foreach (var m in manifests.EnumerateArray())
        {
            string at = $"{where}/manifests/{i++}";
            var descriptor = Descriptor.Read(m, at);
            await CheckBlobAsync(layout, descriptor, at, verified, cancellationToken).ConfigureAwait(false);
            using var doc = await ReadJsonFileAsync(layout.BlobPath(descriptor.Digest), at, OciErrorCodes.InvalidLayout, cancellationToken).ConfigureAwait(false);
            if (MediaTypes.IsIndex(descriptor.MediaType))
            {
                if (depth >= 4)
                {
                    throw new OciException(OciErrorCodes.InvalidLayout, $"{at}: indexes nest deeper than 4 levels.");
                }

                await CollectImagesAsync(layout, doc.RootElement, $"blob {descriptor.Digest}", images, verified, depth + 1, cancellationToken).ConfigureAwait(false);
                continue;
            }

            if (!MediaTypes.IsManifest(descriptor.MediaType))
            {
                continue;
            }

            string mwhere = $"manifest {descriptor.Digest}";
            var config = Descriptor.Read(doc.RootElement.TryGetProperty("config", out var c) ? c : default, mwhere + "/config");
            await CheckBlobAsync(layout, config, mwhere + "/config", verified, cancellationToken).ConfigureAwait(false);
            var layers = new List<Descriptor>();
            if (doc.RootElement.TryGetProperty("layers", out var ls) && ls.ValueKind == JsonValueKind.Array)
            {
                int j = 0;
                foreach (var l in ls.EnumerateArray())
                {
                    var layer = Descriptor.Read(l, $"{mwhere}/layers/{j++}");
                    await CheckBlobAsync(layout, layer, $"{mwhere}/layers/{j - 1}", verified, cancellationToken).ConfigureAwait(false);
                    layers.Add(layer);
                }
            }

            if (config.MediaType is not (MediaTypes.OciConfig or MediaTypes.DockerConfig))
            {
                throw new OciException(OciErrorCodes.InvalidLayout, $"{mwhere}/config has media type '{config.MediaType}', which is not an image config; this is not a container image.");
            }

            var diffIds = await ReadDiffIdsAsync(layout.BlobPath(config.Digest), OciErrorCodes.InvalidLayout, cancellationToken).ConfigureAwait(false);
            if (diffIds.Count != layers.Count)
            {
                throw new OciException(OciErrorCodes.InvalidLayout, $"{mwhere} lists {layers.Count} layers but its config lists {diffIds.Count} diff_ids; the manifest and config do not belong together.");
            }

            for (int k = 0; k < layers.Count; k++)
            {
                if (!MediaTypes.IsLayer(layers[k].MediaType))
                {
                    throw new OciException(OciErrorCodes.InvalidLayout, $"{mwhere}/layers/{k} has media type '{layers[k].MediaType}', which is not a layer InfraMind can run.");
                }

                if (layers[k].MediaType is MediaTypes.OciLayerTar or MediaTypes.DockerLayerTar && layers[k].Digest.Value != diffIds[k])
                {
                    throw new OciException(OciErrorCodes.InvalidLayout, $"{mwhere}/layers/{k} is {layers[k].Digest} but the config says diff_id {diffIds[k]}; the manifest and config do not belong together.");
                }
            }

            var tags = new List<string>();
            if (descriptor.Annotations is { } annotations
                && (annotations.TryGetValue(ContainerdImageNameAnnotation, out var name) || annotations.TryGetValue(RefNameAnnotation, out name)))
            {
                tags.Add(name);
            }

            images.Add(new OciImage(descriptor, config, layers, tags));
        }
    }

    private static async Task CheckBlobAsync(OciLayout layout, Descriptor descriptor, string where, HashSet<Digest> verified, CancellationToken cancellationToken)
    {
        var info = new FileInfo(layout.BlobPath(descriptor.Digest));
        if (!info.Exists)
        {
            throw new OciException(OciErrorCodes.InvalidLayout, $"{where} names blob {descriptor.Digest}, which the layout does not contain; the layout is incomplete.");
        }

        if (info.Length != descriptor.Size)
        {
            throw new OciException(OciErrorCodes.SizeMismatch, $"{where} says blob {descriptor.Digest} has {descriptor.Size} bytes but it has {info.Length}; the layout is corrupt.");
        }

        if (verified.Add(descriptor.Digest))
        {
            var file = new FileStream(info.FullName, FileMode.Open, FileAccess.Read, FileShare.Read, 1, FileOptions.Asynchronous | FileOptions.SequentialScan);
            await using (file.ConfigureAwait(false))
            {
                var (actual, _) = await Digest.ComputeAsync(file, cancellationToken).ConfigureAwait(false);
                if (actual != descriptor.Digest)
                {
                    throw new DigestMismatchException(descriptor.Digest, actual, $"blob named by {where}");
                }
            }
        }
    }

    internal static byte[] BuildManifest(Descriptor config, IReadOnlyList<Descriptor> layers) => WriteJson(w =>
    {
        w.WriteStartObject();
        w.WriteNumber("schemaVersion", 2);
        w.WriteString("mediaType", MediaTypes.OciManifest);
        w.WritePropertyName("config");
        config.WriteTo(w);
        w.WriteStartArray("layers");
        foreach (var layer in layers)
        {
            layer.WriteTo(w);
        }

        w.WriteEndArray();
        w.WriteEndObject();
    });

    private static byte[] BuildIndex(IReadOnlyList<OciImage> images) => WriteJson(w =>
    {
        w.WriteStartObject();
        w.WriteNumber("schemaVersion", 2);
        w.WriteString("mediaType", MediaTypes.OciIndex);
        w.WriteStartArray("manifests");
        foreach (var image in images)
        {
            image.Manifest.WriteTo(w);
        }

        w.WriteEndArray();
        w.WriteEndObject();
    });

    // The pre-OCI manifest.json that Docker 20.10's 'docker load' reads; paths point at the OCI blobs, as Docker 25 does.
    private static byte[] BuildDockerManifest(IReadOnlyList<OciImage> images) => WriteJson(w =>
    {
        w.WriteStartArray();
        foreach (var image in images)
        {
            w.WriteStartObject();
            w.WriteString("Config", "blobs/sha256/" + image.Config.Digest.Hex);
            w.WriteStartArray("RepoTags");
            foreach (string tag in image.RepoTags)
            {
                w.WriteStringValue(tag);
            }

            w.WriteEndArray();
            w.WriteStartArray("Layers");
            foreach (var layer in image.Layers)
            {
                w.WriteStringValue("blobs/sha256/" + layer.Digest.Hex);
            }

            w.WriteEndArray();
            w.WriteEndObject();
        }

        w.WriteEndArray();
    });

    private static byte[] BuildRepositories(IReadOnlyList<OciImage> images)
    {
        var repositories = new SortedDictionary<string, SortedDictionary<string, string>>(StringComparer.Ordinal);
        foreach (var image in images)
        {
            foreach (string tag in image.RepoTags)
            {
                var (repo, t) = SplitTag(tag);
                if (!repositories.TryGetValue(repo, out var tags))
                {
                    repositories[repo] = tags = new SortedDictionary<string, string>(StringComparer.Ordinal);
                }

                tags[t] = image.Config.Digest.Hex;
            }
        }

        return WriteJson(w =>
        {
            w.WriteStartObject();
            foreach (var (repo, tags) in repositories)
            {
                w.WriteStartObject(repo);
                foreach (var (tag, id) in tags)
                {
                    w.WriteString(tag, id);
                }

                w.WriteEndObject();
            }

            w.WriteEndObject();
        });
    }

    private static Dictionary<string, string>? RefAnnotations(List<string> tags)
    {
        if (tags.Count == 0)
        {
            return null;
        }

        return new Dictionary<string, string>(StringComparer.Ordinal)
        {
            [ContainerdImageNameAnnotation] = tags[0],
            [RefNameAnnotation] = SplitTag(tags[0]).Tag,
        };
    }

    private static (string Repository, string Tag) SplitTag(string reference)
    {
        int slash = reference.LastIndexOf('/');
        int colon = reference.LastIndexOf(':');
        return colon > slash ? (reference[..colon], reference[(colon + 1)..]) : (reference, "latest");
    }

    private static byte[] WriteJson(Action<Utf8JsonWriter> write)
    {
        var buffer = new ArrayBufferWriter<byte>();
        using (var writer = new Utf8JsonWriter(buffer, CanonicalJson))
        {
            write(writer);
        }

        return buffer.WrittenSpan.ToArray();
    }

    private static async Task WriteDirectoryAsync(TarWriter writer, string name, CancellationToken cancellationToken)
    {
        var entry = new UstarTarEntry(TarEntryType.Directory, name);
        Normalize(entry, DirectoryMode);
        await writer.WriteEntryAsync(entry, cancellationToken).ConfigureAwait(false);
    }

    private static Task WriteBytesAsync(TarWriter writer, string name, byte[] content, CancellationToken cancellationToken) =>
        WriteFileAsync(writer, name, new MemoryStream(content, writable: false), cancellationToken);

    private static async Task WriteFileAsync(TarWriter writer, string name, Stream content, CancellationToken cancellationToken)
    {
        // Ustar's size field holds 11 octal digits (< 8 GiB); only a larger blob needs a PAX header to carry its size.
        PosixTarEntry entry = content.Length < (1L << 33)
            ? new UstarTarEntry(TarEntryType.RegularFile, name)
            : new PaxTarEntry(TarEntryType.RegularFile, name);
        Normalize(entry, FileMode644);
        entry.DataStream = content;
        await writer.WriteEntryAsync(entry, cancellationToken).ConfigureAwait(false);
    }

    private const UnixFileMode DirectoryMode =
        UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute |
        UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute;

    private const UnixFileMode FileMode644 = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead;

    private static void Normalize(PosixTarEntry entry, UnixFileMode mode)
    {
        entry.Mode = mode;
        entry.ModificationTime = DateTimeOffset.UnixEpoch;
        entry.Uid = 0;
        entry.Gid = 0;
        entry.UserName = string.Empty;
        entry.GroupName = string.Empty;
    }

    private static async Task<TarEntry?> NextEntryAsync(TarReader reader, string what, CancellationToken cancellationToken)
    {
        try
        {
            return await reader.GetNextEntryAsync(copyData: false, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is InvalidDataException or FormatException or EndOfStreamException)
        {
            throw new OciException(
                what.StartsWith("docker", StringComparison.Ordinal) ? OciErrorCodes.InvalidDockerArchive : OciErrorCodes.InvalidLayout,
                $"the {what} is not a readable tar ({e.Message}); it is truncated or not a tar at all.");
        }
    }

    private static async Task<(Digest Digest, long Size)> CopyHashingAsync(Stream source, string path, CancellationToken cancellationToken)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        byte[] buffer = ArrayPool<byte>.Shared.Rent(1 << 20);
        long size = 0;
        try
        {
            var target = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None, 1, FileOptions.Asynchronous);
            await using (target.ConfigureAwait(false))
            {
                int read;
                while ((read = await source.ReadAsync(buffer, cancellationToken).ConfigureAwait(false)) > 0)
                {
                    hash.AppendData(buffer, 0, read);
                    await target.WriteAsync(buffer.AsMemory(0, read), cancellationToken).ConfigureAwait(false);
                    size += read;
                }
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }

        return (Digest.FromHash(hash.GetHashAndReset()), size);
    }

    private static async Task<JsonDocument> ReadJsonFileAsync(string path, string what, ErrorCode code, CancellationToken cancellationToken)
    {
        var info = new FileInfo(path);
        if (info.Length > MaxMetadataSize)
        {
            throw new OciException(code, $"{what} is {info.Length} bytes, too large for a JSON document of an image.");
        }

        byte[] bytes = await File.ReadAllBytesAsync(path, cancellationToken).ConfigureAwait(false);
        try
        {
            return JsonDocument.Parse(bytes);
        }
        catch (JsonException e)
        {
            throw new OciException(code, $"{what} is not valid JSON (line {e.LineNumber + 1}, byte {e.BytePositionInLine + 1}): {e.Message}");
        }
    }

    private static async Task<List<string>> ReadDiffIdsAsync(string configPath, ErrorCode code, CancellationToken cancellationToken)
    {
        using var config = await ReadJsonFileAsync(configPath, "image config", code, cancellationToken).ConfigureAwait(false);
        return config.RootElement.ValueKind == JsonValueKind.Object
            && config.RootElement.TryGetProperty("rootfs", out var rootfs)
            && rootfs.ValueKind == JsonValueKind.Object
            && rootfs.TryGetProperty("diff_ids", out var ids) && ids.ValueKind == JsonValueKind.Array
            ? ids.EnumerateArray().Select(x => x.GetString() ?? string.Empty).ToList()
            : [];
    }

    private static async Task<List<ImageSource>> ReadDockerManifestAsync(string path, CancellationToken cancellationToken)
    {
        using var json = await ReadJsonFileAsync(path, "manifest.json", OciErrorCodes.InvalidDockerArchive, cancellationToken).ConfigureAwait(false);
        if (json.RootElement.ValueKind != JsonValueKind.Array || json.RootElement.GetArrayLength() == 0)
        {
            throw new OciException(OciErrorCodes.InvalidDockerArchive, "manifest.json of the docker save archive is not a non-empty JSON array.");
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

            string config = item.TryGetProperty("Config", out var c) && c.ValueKind == JsonValueKind.String
                ? c.GetString()!
                : throw new OciException(OciErrorCodes.InvalidDockerArchive, $"{where}/Config is missing.");
            var layers = item.TryGetProperty("Layers", out var l) && l.ValueKind == JsonValueKind.Array
                ? l.EnumerateArray().Select(x => x.GetString() ?? string.Empty).ToList()
                : [];
            var tags = item.TryGetProperty("RepoTags", out var t) && t.ValueKind == JsonValueKind.Array
                ? t.EnumerateArray().Where(x => x.ValueKind == JsonValueKind.String).Select(x => x.GetString()!).ToList()
                : [];
            sources.Add(new ImageSource(where, config, layers, tags));
        }

        return sources;
    }

    // An archive with only an OCI index (containerd, buildx --output type=oci, or a future Docker without the legacy
    // manifest.json): follow index → manifest → config/layers by digest.
    private static async Task<List<ImageSource>> ReadOciIndexAsync(string indexPath, Func<string, string> blobPath, CancellationToken cancellationToken)
    {
        var sources = new List<ImageSource>();
        await WalkAsync(indexPath, "index.json", 0).ConfigureAwait(false);
        return sources;

        async Task WalkAsync(string path, string where, int depth)
        {
            using var index = await ReadJsonFileAsync(path, where, OciErrorCodes.InvalidDockerArchive, cancellationToken).ConfigureAwait(false);
            if (!index.RootElement.TryGetProperty("manifests", out var manifests) || manifests.ValueKind != JsonValueKind.Array)
            {
                throw new OciException(OciErrorCodes.InvalidDockerArchive, $"{where}/manifests is missing or not an array.");
            }

            int i = 0;
            foreach (var m in manifests.EnumerateArray())
            {
                string at = $"{where}/manifests/{i++}";
                var descriptor = Descriptor.Read(m, at);
                string blob = blobPath("blobs/sha256/" + descriptor.Digest.Hex);
                if (MediaTypes.IsIndex(descriptor.MediaType) && depth < 4)
                {
                    await WalkAsync(blob, $"index {descriptor.Digest}", depth + 1).ConfigureAwait(false);
                    continue;
                }

                if (!MediaTypes.IsManifest(descriptor.MediaType))
                {
                    continue;
                }

                using var manifest = await ReadJsonFileAsync(blob, $"manifest {descriptor.Digest}", OciErrorCodes.InvalidDockerArchive, cancellationToken).ConfigureAwait(false);
                var config = Descriptor.Read(manifest.RootElement.TryGetProperty("config", out var c) ? c : default, $"manifest {descriptor.Digest}/config");
                var layers = manifest.RootElement.TryGetProperty("layers", out var ls) && ls.ValueKind == JsonValueKind.Array
                    ? ls.EnumerateArray().Select((l, j) => "blobs/sha256/" + Descriptor.Read(l, $"manifest {descriptor.Digest}/layers/{j}").Digest.Hex).ToList()
                    : [];
                var tags = new List<string>();
                if (descriptor.Annotations is { } a
                    && (a.TryGetValue(ContainerdImageNameAnnotation, out var name) || a.TryGetValue(RefNameAnnotation, out name)))
                {
                    tags.Add(name);
                }

                sources.Add(new ImageSource(at, "blobs/sha256/" + config.Digest.Hex, layers, tags));
            }
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

    private static string CombineLink(string entryName, string linkName)
    {
        if (linkName.StartsWith('/'))
        {
            return linkName;
        }

        int slash = entryName.LastIndexOf('/');
        return slash < 0 ? linkName : entryName[..(slash + 1)] + linkName;
    }

    internal static string NormalizeEntryName(string name)
    {
        var parts = new List<string>();
        foreach (string part in name.Replace('\\', '/').Split('/', StringSplitOptions.RemoveEmptyEntries))
        {
            if (part == ".")
            {
                continue;
            }

            if (part == "..")
            {
                if (parts.Count > 0)
                {
                    parts.RemoveAt(parts.Count - 1);
                }

                continue;
            }

            parts.Add(part);
        }

        return string.Join('/', parts);
    }

    private static void TryDeleteDirectory(string path)
    {
        try
        {
            if (Directory.Exists(path))
            {
                Directory.Delete(path, recursive: true);
            }
        }
        catch (IOException)
        {
            // Leftover temp files are harmless; the original error (if any) matters more.
        }
        catch (UnauthorizedAccessException)
        {
        }
    }

    private sealed record SpooledFile(string Path, Digest Digest, long Size);

    private sealed record ImageSource(string Where, string Config, List<string> Layers, List<string> Tags);
}
