using System.Text.Json;

namespace InfraMind.Oci.Layout;

/// <summary>
/// Opens an OCI image layout directory: checks oci-layout and index.json, follows index → manifest → config/layers
/// (presence, sizes, media types, diff_ids) and hashes every blob it references that was not verified already; a
/// gzip or zstd layer is decompressed, within <see cref="ArchiveLimits.MaxDecompressedLayerBytes"/>, to check its diff_id.
/// Every descriptor is read once (a manifest listed twice is one image) and the walk stays within
/// <see cref="ArchiveLimits"/>, so a hostile index costs no more than an honest one.
/// </summary>
internal static class LayoutVerifier
{

    /// <param name="verified">Blobs already hashed on the way in (by <see cref="LayoutTarExtractor"/>); the rest are hashed here.</param>
    public static async Task<OciLayout> OpenAsync(string layoutDirectory, HashSet<Digest> verified, CancellationToken cancellationToken)
    {
        string layoutFile = Path.Combine(layoutDirectory, "oci-layout");
        if (!File.Exists(layoutFile))
        {
            throw new OciException(OciErrorCodes.InvalidLayout, $"'{layoutDirectory}' has no oci-layout file, so it is not an OCI image layout. " +
                "A layout is a directory with oci-layout, index.json and blobs/ (an unpacked layout tar is one; `infra push --to https://…` uploads an image as such a tar); " +
                "a layout tar or a `docker save IMAGE -o FILE` archive may also be given as the file itself.");
        }

        using (var layoutDoc = await LayoutDocuments.ReadJsonFileAsync(layoutFile, "oci-layout", ImageInput.OciLayout, ArchiveLimits.MaxManifestBytes, cancellationToken).ConfigureAwait(false))
        {
            var version = JsonMember.Of(layoutDoc.RootElement, "imageLayoutVersion", JsonValueKind.String);
            if (version.ValueKind != JsonValueKind.String || version.GetString() != "1.0.0")
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
        using (var index = await LayoutDocuments.ReadJsonFileAsync(indexFile, "index.json", ImageInput.OciLayout, ArchiveLimits.MaxManifestBytes, cancellationToken).ConfigureAwait(false))
        {
            await CollectImagesAsync(layout, index.RootElement, "index.json", images, verified, new HashSet<Digest>(), [], depth: 0, cancellationToken).ConfigureAwait(false);
        }

        if (images.Count == 0)
        {
            throw new OciException(OciErrorCodes.InvalidLayout, "index.json of the layout lists no image manifest.");
        }

        return layout with { Images = images };
    }

    /// <param name="seen">Manifests and indexes already read in this walk: each is read once, however often it is listed.</param>
    /// <param name="tars">The tar digest of each compressed layer blob (and media type) decompressed in this walk.</param>
    private static async Task CollectImagesAsync(
        OciLayout layout, JsonElement index, string where, List<OciImage> images, HashSet<Digest> verified, HashSet<Digest> seen,
        Dictionary<(Digest Blob, string MediaType), Digest> tars, int depth, CancellationToken cancellationToken)
    {
        var manifests = JsonMember.Of(index, "manifests", JsonValueKind.Array);
        if (manifests.ValueKind != JsonValueKind.Array)
        {
            throw new OciException(OciErrorCodes.InvalidLayout, $"{where}/manifests is missing or not an array.");
        }

        CheckIndexEntries(manifests.GetArrayLength(), where);
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

            if (isIndex && depth >= ArchiveLimits.MaxIndexDepth)
            {
                throw new OciException(OciErrorCodes.ArchiveLimit, $"{at}: indexes nest deeper than {ArchiveLimits.MaxIndexDepth} levels below index.json.");
            }

            if (!isIndex && images.Count >= ArchiveLimits.MaxImages)
            {
                throw new OciException(OciErrorCodes.ArchiveLimit, $"{at}: the layout holds more than {ArchiveLimits.MaxImages} image manifests.");
            }

            CheckDocumentSize(descriptor, at);
            await CheckBlobAsync(layout, descriptor, at, verified, cancellationToken).ConfigureAwait(false);
            using var doc = await LayoutDocuments.ReadJsonFileAsync(layout.BlobPath(descriptor.Digest), at, ImageInput.OciLayout, ArchiveLimits.MaxManifestBytes, cancellationToken).ConfigureAwait(false);
            if (isIndex)
            {
                await CollectImagesAsync(layout, doc.RootElement, $"blob {descriptor.Digest}", images, verified, seen, tars, depth + 1, cancellationToken).ConfigureAwait(false);
            }
            else
            {
                images.Add(await ReadImageAsync(layout, descriptor, doc.RootElement, verified, tars, cancellationToken).ConfigureAwait(false));
            }
        }
    }

    /// <summary>An index may list at most <see cref="ArchiveLimits.MaxIndexEntries"/> descriptors; checked before any is read.</summary>
    internal static void CheckIndexEntries(int count, string where)
    {
        if (count > ArchiveLimits.MaxIndexEntries)
        {
            throw new OciException(OciErrorCodes.ArchiveLimit, $"{where} lists {count} manifests; an index may list at most {ArchiveLimits.MaxIndexEntries}.");
        }
    }

    /// <summary>A manifest or index must declare (and have) at most <see cref="ArchiveLimits.MaxManifestBytes"/>; checked before it is hashed.</summary>
    internal static void CheckDocumentSize(Descriptor descriptor, string where)
    {
        if (descriptor.Size > ArchiveLimits.MaxManifestBytes)
        {
            throw new OciException(OciErrorCodes.ArchiveLimit, $"{where} names a {descriptor.Size}-byte document; a manifest or index may have at most {ArchiveLimits.MaxManifestBytes} bytes.");
        }
    }

    /// <summary>An image may have at most <see cref="ArchiveLimits.MaxLayers"/> layers; checked before any is read.</summary>
    internal static void CheckLayerCount(int count, string where)
    {
        if (count > ArchiveLimits.MaxLayers)
        {
            throw new OciException(OciErrorCodes.ArchiveLimit, $"{where} lists {count} layers; an image may have at most {ArchiveLimits.MaxLayers}.");
        }
    }

    private static async Task<OciImage> ReadImageAsync(
        OciLayout layout, Descriptor descriptor, JsonElement manifest, HashSet<Digest> verified, Dictionary<(Digest Blob, string MediaType), Digest> tars, CancellationToken cancellationToken)
    {
        string mwhere = $"manifest {descriptor.Digest}";
        var config = Descriptor.Read(JsonMember.Of(manifest, "config", JsonValueKind.Object), mwhere + "/config");
        if (config.Size > ArchiveLimits.MaxConfigBytes)
        {
            throw new OciException(OciErrorCodes.ArchiveLimit, $"{mwhere}/config names a {config.Size}-byte config; an image config may have at most {ArchiveLimits.MaxConfigBytes} bytes.");
        }

        var ls = JsonMember.Of(manifest, "layers", JsonValueKind.Array);
        bool hasLayers = ls.ValueKind == JsonValueKind.Array;
        if (hasLayers)
        {
            CheckLayerCount(ls.GetArrayLength(), mwhere);
        }

        await CheckBlobAsync(layout, config, mwhere + "/config", verified, cancellationToken).ConfigureAwait(false);
        var layers = new List<Descriptor>();
        if (hasLayers)
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

        var diffIds = await LayoutDocuments.ReadDiffIdsAsync(layout.BlobPath(config.Digest), ImageInput.OciLayout, cancellationToken).ConfigureAwait(false);
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

            // A plain layer is its own diff; a compressed one is decompressed (within ArchiveLimits) and hashed, once
            // per blob: a layer listed again (in this image or another) is not decompressed again, so one small
            // blob that inflates to the allowance, listed 256 times in each of 16 images, costs one allowance of
            // reading, not 4,096.
            var tar = layers[k].Digest;
            if (!LayerContent.IsPlain(layers[k].MediaType))
            {
                var key = (layers[k].Digest, layers[k].MediaType);
                if (tars.TryGetValue(key, out var known))
                {
                    tar = known;
                }
                else
                {
                    tar = await LayerContent.TarDigestAsync(layout.BlobPath(layers[k].Digest), layers[k], $"{mwhere}/layers/{k}", cancellationToken).ConfigureAwait(false);
                    tars[key] = tar;
                }
            }

            if (tar.Value != diffIds[k])
            {
                throw LayerContent.Mismatch($"{mwhere}/layers/{k}", layers[k], diffIds[k], tar);
            }
        }

        return new OciImage(descriptor, config, layers, LayoutDocuments.NamesOf(descriptor));
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
}
