using System.Buffers;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace InfraMind.Oci.Layout;

/// <summary>What is being read, which decides the code of a failure: a docker save archive (IM4010) or an OCI layout (IM4011).</summary>
internal enum ImageInput
{
    DockerArchive,
    OciLayout,
}

internal static class ImageInputs
{
    /// <summary>The code of a failure to read <paramref name="input"/>: IM4010 for a docker save archive, IM4011 for an OCI layout.</summary>
    public static ErrorCode InvalidCode(this ImageInput input) =>
        input == ImageInput.DockerArchive ? OciErrorCodes.InvalidDockerArchive : OciErrorCodes.InvalidLayout;
}

/// <summary>
/// The small JSON documents of a layout: written byte for byte the same every time (fixed field order, no whitespace,
/// '+' unescaped) and read back with a size bound.
/// </summary>
internal static class LayoutDocuments
{
    internal const string LayoutFileContent = "{\"imageLayoutVersion\":\"1.0.0\"}";

    private static readonly JsonWriterOptions CanonicalJson = new()
    {
        // The default encoder writes '+' as \u002B, which no other tool does; media types are full of '+'.
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        Indented = false,
    };

    public static byte[] BuildManifest(Descriptor config, IReadOnlyList<Descriptor> layers) => WriteJson(w =>
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

    /// <summary>An index.json listing <paramref name="manifests"/> in the order given.</summary>
    public static byte[] BuildIndex(IEnumerable<Descriptor> manifests) => WriteJson(w =>
    {
        w.WriteStartObject();
        w.WriteNumber("schemaVersion", 2);
        w.WriteString("mediaType", MediaTypes.OciIndex);
        w.WriteStartArray("manifests");
        foreach (var manifest in manifests)
        {
            manifest.WriteTo(w);
        }

        w.WriteEndArray();
        w.WriteEndObject();
    });

    // The pre-OCI manifest.json that Docker 20.10's 'docker load' reads; paths point at the OCI blobs, as Docker 25 does.
    public static byte[] BuildDockerManifest(IReadOnlyList<OciImage> images) => WriteJson(w =>
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

    public static byte[] BuildRepositories(IReadOnlyList<OciImage> images)
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

    /// <summary>The index.json annotations that name an image: the full name (Docker 25+, containerd) and its tag (OCI).</summary>
    public static Dictionary<string, string>? NameAnnotations(string? name)
    {
        if (name is null)
        {
            return null;
        }

        return new Dictionary<string, string>(StringComparer.Ordinal)
        {
            [OciImageLayout.ContainerdImageNameAnnotation] = name,
            [OciImageLayout.RefNameAnnotation] = SplitTag(name).Tag,
        };
    }

    /// <summary>The name an index entry gives its image (the full name, else the bare tag), as a list of tags.</summary>
    public static List<string> NamesOf(Descriptor manifest)
    {
        var tags = new List<string>();
        var annotations = manifest.Annotations;
        string? name = null;
        if (annotations is not null
            && (annotations.TryGetValue(OciImageLayout.ContainerdImageNameAnnotation, out name) || annotations.TryGetValue(OciImageLayout.RefNameAnnotation, out name)))
        {
            tags.Add(name);
        }

        return tags;
    }

    /// <summary>
    /// Reads a small JSON document whole (index, manifest, config); <paramref name="maxBytes"/> bounds the memory a
    /// hostile archive can ask for (<see cref="ArchiveLimits.MaxManifestBytes"/>, <see cref="ArchiveLimits.MaxConfigBytes"/>).
    /// Its root must be <paramref name="root"/> (an object, but for manifest.json's array): a document of another kind
    /// is refused with the reader's code, never left to the callers' reads, which would throw .NET's InvalidOperationException.
    /// </summary>
    public static async Task<JsonDocument> ReadJsonFileAsync(
        string path, string what, ImageInput input, long maxBytes, CancellationToken cancellationToken, JsonValueKind root = JsonValueKind.Object)
    {
        var code = input.InvalidCode();
        var info = new FileInfo(path);
        if (info.Length > maxBytes)
        {
            throw new OciException(OciErrorCodes.ArchiveLimit, $"{what} is {info.Length} bytes; a JSON document of an image may have at most {maxBytes} bytes.");
        }

        byte[] bytes = await File.ReadAllBytesAsync(path, cancellationToken).ConfigureAwait(false);
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(bytes);
        }
        catch (JsonException e)
        {
            throw new OciException(code, $"{what} is not valid JSON (line {e.LineNumber + 1}, byte {e.BytePositionInLine + 1}).");
        }

        if (document.RootElement.ValueKind != root)
        {
            var found = document.RootElement.ValueKind;
            document.Dispose();
            throw new OciException(code, $"{what} is a JSON {Kind(found)}, not {(root == JsonValueKind.Array ? "an array" : "an object")}.");
        }

        return document;
    }

    /// <summary>A JSON value's kind in a message's words.</summary>
    internal static string Kind(JsonValueKind kind) => kind switch
    {
        JsonValueKind.Object => "object",
        JsonValueKind.Array => "array",
        JsonValueKind.String => "string",
        JsonValueKind.Number => "number",
        JsonValueKind.True or JsonValueKind.False => "boolean",
        _ => "null",
    };

    public static async Task<List<string>> ReadDiffIdsAsync(string configPath, ImageInput input, CancellationToken cancellationToken)
    {
        using var config = await ReadJsonFileAsync(configPath, "image config", input, ArchiveLimits.MaxConfigBytes, cancellationToken).ConfigureAwait(false);
        var ids = JsonMember.Of(JsonMember.Of(config.RootElement, "rootfs", JsonValueKind.Object), "diff_ids", JsonValueKind.Array);
        if (ids.ValueKind != JsonValueKind.Array)
        {
            return [];
        }

        var diffIds = new List<string>();
        foreach (var id in ids.EnumerateArray())
        {
            diffIds.Add(id.ValueKind == JsonValueKind.String
                ? id.GetString()!
                : throw new OciException(
                    input.InvalidCode(),
                    $"image config/rootfs/diff_ids/{diffIds.Count} is a JSON {Kind(id.ValueKind)}, not a digest string."));
        }

        return diffIds;
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
}
