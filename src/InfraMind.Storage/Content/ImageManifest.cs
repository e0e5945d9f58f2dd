using System.Text.Json;
using InfraMind.Oci;

namespace InfraMind.Storage;

/// <summary>The parts of an image manifest (OCI or Docker v2 schema 2) a pull needs: config and layers.</summary>
internal sealed record ImageManifest(string MediaType, Descriptor Config, IReadOnlyList<Descriptor> Layers)
{
    /// <summary>Manifest media types a pull asks for, preferred first.</summary>
    public static readonly IReadOnlyList<string> Accepted = [MediaTypes.OciManifest, MediaTypes.DockerManifest, MediaTypes.OciIndex, MediaTypes.DockerManifestList];

    /// <summary>Reads a manifest; <paramref name="where"/> names it in errors. Indexes and schema 1 give IM4209.</summary>
    public static ImageManifest Parse(byte[] bytes, string where, string? headerMediaType = null)
    {
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(bytes);
        }
        catch (JsonException e)
        {
            throw new OciException(OciErrorCodes.InvalidLayout, $"{where} is not valid JSON ({e.Message}).");
        }

        using (doc)
        {
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                throw new OciException(OciErrorCodes.InvalidLayout, $"{where} is not a JSON object.");
            }

            string? mediaType = root.TryGetProperty("mediaType", out var mt) && mt.ValueKind == JsonValueKind.String ? mt.GetString() : headerMediaType;
            if (root.TryGetProperty("schemaVersion", out var sv) && sv.ValueKind == JsonValueKind.Number && sv.GetInt32() == 1)
            {
                throw new StorageException(StorageErrorCodes.UnsupportedManifest, $"{where} is a Docker schema 1 manifest, which has no content-addressed config",
                    hint: "push the image again with a current docker, or with `infra push`");
            }

            if (root.TryGetProperty("manifests", out _) || (mediaType is not null && MediaTypes.IsIndex(mediaType)))
            {
                throw new StorageException(StorageErrorCodes.UnsupportedManifest, $"{where} is an image index (several platforms) where one image manifest was expected",
                    hint: ImageIndex.PullByDigest);
            }

            var config = Descriptor.Read(root.TryGetProperty("config", out var c) ? c : default, where + "/config");
            if (config.Size > ArchiveLimits.MaxConfigBytes)
            {
                throw new OciException(OciErrorCodes.ArchiveLimit, $"{where}/config names a {config.Size}-byte config; an image config may have at most {ArchiveLimits.MaxConfigBytes} bytes.");
            }

            var layers = new List<Descriptor>();
            if (root.TryGetProperty("layers", out var ls) && ls.ValueKind == JsonValueKind.Array)
            {
                if (ls.GetArrayLength() > ArchiveLimits.MaxLayers)
                {
                    throw new OciException(OciErrorCodes.ArchiveLimit, $"{where} lists {ls.GetArrayLength()} layers; an image may have at most {ArchiveLimits.MaxLayers}.");
                }

                int i = 0;
                long total = config.Size;
                foreach (var l in ls.EnumerateArray())
                {
                    var layer = Descriptor.Read(l, $"{where}/layers/{i++}");

                    // Each size is a valid non-negative integer, but a registry's manifest is a stranger's word: sizes
                    // that add up past a 64-bit count would make every later sum (the image-size cap of a fetch, the
                    // store's accounting) throw OverflowException, an internal error, instead of a refusal.
                    total = layer.Size > long.MaxValue - total
                        ? throw new OciException(OciErrorCodes.ArchiveLimit, $"{where} lists layers whose sizes add up to more than {long.MaxValue} bytes (at {where}/layers/{i - 1}); no image is that large. The registry serves a forged manifest: pull from another source, or ask its operator.")
                        : total + layer.Size;
                    layers.Add(layer);
                }
            }

            // Docker schema 2 always names itself; an OCI manifest may leave mediaType out.
            return new ImageManifest(mediaType ?? MediaTypes.OciManifest, config, layers);
        }
    }
}
