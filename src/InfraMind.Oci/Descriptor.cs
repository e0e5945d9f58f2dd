using System.Text.Json;

namespace InfraMind.Oci;

/// <summary>An OCI content descriptor: what a blob is, its digest and its size in bytes.</summary>
public sealed record Descriptor(string MediaType, Digest Digest, long Size, IReadOnlyDictionary<string, string>? Annotations = null)
{
    /// <summary>
    /// Writes the descriptor with a fixed field order (mediaType, digest, size, annotations sorted by key) so that
    /// documents that embed it hash the same every time.
    /// </summary>
    public void WriteTo(Utf8JsonWriter writer)
    {
        ArgumentNullException.ThrowIfNull(writer);
        writer.WriteStartObject();
        writer.WriteString("mediaType", MediaType);
        writer.WriteString("digest", Digest.Value);
        writer.WriteNumber("size", Size);
        WriteAnnotations(writer, Annotations);
        writer.WriteEndObject();
    }

    /// <summary>
    /// An <c>annotations</c> member (a descriptor's, a manifest's), keys sorted so the document hashes the same every
    /// time; nothing when there are none.
    /// </summary>
    public static void WriteAnnotations(Utf8JsonWriter writer, IReadOnlyDictionary<string, string>? annotations)
    {
        ArgumentNullException.ThrowIfNull(writer);
        if (annotations is not { Count: > 0 })
        {
            return;
        }

        writer.WriteStartObject("annotations");
        foreach (var (key, value) in annotations.OrderBy(a => a.Key, StringComparer.Ordinal))
        {
            writer.WriteString(key, value);
        }

        writer.WriteEndObject();
    }

    /// <summary>The string members of <paramref name="element"/>'s <c>annotations</c> object; null when it has none (or it is not an object).</summary>
    public static Dictionary<string, string>? ReadAnnotations(JsonElement element)
    {
        var a = JsonMember.Of(element, "annotations", JsonValueKind.Object);
        if (a.ValueKind != JsonValueKind.Object)
        {
            return null;
        }

        var annotations = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var p in a.EnumerateObject())
        {
            if (p.Value.ValueKind == JsonValueKind.String)
            {
                annotations[p.Name] = p.Value.GetString()!;
            }
        }

        return annotations;
    }

    /// <summary>Reads a descriptor; <paramref name="where"/> names the document and JSON path for error messages.</summary>
    public static Descriptor Read(JsonElement element, string where)
    {
        if (element.ValueKind != JsonValueKind.Object)
        {
            throw new OciException(OciErrorCodes.InvalidLayout, $"{where} is not a JSON object; a descriptor is {{\"mediaType\",\"digest\",\"size\"}}.");
        }

        var mt = JsonMember.Of(element, "mediaType", JsonValueKind.String);
        string mediaType = mt.ValueKind == JsonValueKind.String
            ? mt.GetString()!
            : throw new OciException(OciErrorCodes.InvalidLayout, $"{where}/mediaType is missing or not a string.");
        var d = JsonMember.Of(element, "digest", JsonValueKind.String);
        string digestText = d.ValueKind == JsonValueKind.String
            ? d.GetString()!
            : throw new OciException(OciErrorCodes.InvalidLayout, $"{where}/digest is missing or not a string.");
        var s = JsonMember.Of(element, "size", JsonValueKind.Number);
        long sz = -1;
        long size = s.ValueKind == JsonValueKind.Number && s.TryGetInt64(out sz) && sz >= 0
            ? sz
            : throw new OciException(OciErrorCodes.InvalidLayout, $"{where}/size is missing or not a non-negative integer.");
        var annotations = ReadAnnotations(element);
        Digest digest;
        try
        {
            digest = Digest.Parse(digestText);
        }
        catch (OciException e)
        {
            throw new OciException(OciErrorCodes.InvalidDigest, $"{where}/digest: {e.Message}");
        }

        return new Descriptor(mediaType, digest, size, annotations);
    }
}
