using System.Text;
using InfraMind.Oci.Layout;

namespace InfraMind.Oci.Tests;

/// <summary>
/// The parts of a one-image OCI layout as text, each replaceable, written as a layout tar: what a hostile publisher
/// serves. Both readers take the same tar (the extractor as a layout, the importer as an OCI-only docker save archive).
/// </summary>
internal sealed record LayoutParts
{
    public static readonly byte[] LayerBytes = TestArchives.Layer("parts");

    public string OciLayout { get; init; } = LayoutDocuments.LayoutFileContent;

    public string? Index { get; init; }

    public string? Manifest { get; init; }

    public string? Config { get; init; }

    public string ManifestMediaType { get; init; } = MediaTypes.OciManifest;

    public string LayerMediaType { get; init; } = MediaTypes.OciLayerTar;

    public byte[] Layer { get; init; } = LayerBytes;

    public static string DiffIds => $"[\"{Digest.Compute(LayerBytes)}\"]";

    public byte[] ConfigBytes => Encoding.UTF8.GetBytes(Config ?? $"{{\"architecture\":\"amd64\",\"os\":\"linux\",\"rootfs\":{{\"type\":\"layers\",\"diff_ids\":{DiffIds}}}}}");

    public byte[] ManifestBytes => Encoding.UTF8.GetBytes(Manifest ??
        $"{{\"schemaVersion\":2,\"mediaType\":\"{MediaTypes.OciManifest}\",\"config\":{Descriptor(MediaTypes.OciConfig, ConfigBytes)},\"layers\":[{Descriptor(LayerMediaType, Layer)}]}}");

    public byte[] IndexBytes => Encoding.UTF8.GetBytes(Index ?? $"{{\"schemaVersion\":2,\"manifests\":[{Descriptor(ManifestMediaType, ManifestBytes)}]}}");

    public static string Descriptor(string mediaType, byte[] content) =>
        $"{{\"mediaType\":\"{mediaType}\",\"digest\":\"{Oci.Digest.Compute(content)}\",\"size\":{content.Length}}}";

    public byte[] Tar(params byte[][] extraBlobs) => TestArchives.Tar([
        ("oci-layout", Encoding.UTF8.GetBytes(OciLayout), null),
        ("index.json", IndexBytes, null),
        .. new[] { Layer, ConfigBytes, ManifestBytes }.Concat(extraBlobs).DistinctBy(b => Oci.Digest.Compute(b))
            .Select(b => ("blobs/sha256/" + Oci.Digest.Compute(b).Hex, (byte[]?)b, (string?)null)),
    ]);

    /// <summary>Reads the tar as a layout (the extractor) or as a docker save archive (the importer), into a new directory.</summary>
    public static async Task<OciLayout> ReadAsync(byte[] tar, bool asDockerSave, string directory)
    {
        string target = Path.Combine(directory, Guid.NewGuid().ToString("N"));
        return asDockerSave
            ? await OciImageLayout.ImportDockerArchiveAsync(new MemoryStream(tar), target, CancellationToken.None)
            : await OciImageLayout.ExtractAsync(new MemoryStream(tar), target, CancellationToken.None);
    }
}
