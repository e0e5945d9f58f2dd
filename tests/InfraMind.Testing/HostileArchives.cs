using System.Formats.Tar;
using System.Security.Cryptography;
using System.Text;

namespace InfraMind.Testing;

/// <summary>
/// OCI layout tars an attacker would make to steer a reader's CPU, memory and names (issue #13 §3): an index that lists
/// one large manifest hundreds of times, indexes nested deeper than any image needs, and names inside the archive that
/// try to become names on the reader's machine. Written to a file, since some are megabytes.
/// </summary>
public static class HostileArchives
{
    private const string OciIndex = "application/vnd.oci.image.index.v1+json";
    private const string OciManifest = "application/vnd.oci.image.manifest.v1+json";
    private const string OciConfig = "application/vnd.oci.image.config.v1+json";
    private const string OciLayer = "application/vnd.oci.image.layer.v1.tar";

    /// <summary>
    /// An index listing the same manifest <paramref name="repeats"/> times; the manifest lists one small layer
    /// <paramref name="layers"/> times (≈125 bytes a descriptor: 64 000 layers make an 8 MB manifest), and the config
    /// as many diff_ids, so the layout is valid and every repeat costs a full parse.
    /// </summary>
    public static void RepeatedManifest(string path, int repeats = 300, int layers = 64_000)
    {
        var layer = Layer("hostile");
        var layerDigest = Sha256(layer);
        var config = Encoding.UTF8.GetBytes(
            "{\"architecture\":\"amd64\",\"os\":\"linux\",\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[" +
            string.Join(',', Enumerable.Repeat($"\"{layerDigest}\"", layers)) + "]}}");
        var manifest = Encoding.UTF8.GetBytes(
            $"{{\"schemaVersion\":2,\"mediaType\":\"{OciManifest}\",\"config\":{Descriptor(OciConfig, config)},\"layers\":[" +
            string.Join(',', Enumerable.Repeat($"{{\"mediaType\":\"{OciLayer}\",\"digest\":\"{layerDigest}\",\"size\":{layer.Length}}}", layers)) + "]}");
        var index = Index(Enumerable.Repeat(Descriptor(OciManifest, manifest), repeats));
        Write(path, index, [layer, config, manifest]);
    }

    /// <summary>Indexes nested <paramref name="depth"/> deep, the innermost naming a real image; returns that image's manifest digest.</summary>
    public static string NestedIndexes(string path, int depth)
    {
        var (blobs, manifest) = SmallImage();
        var inner = Descriptor(OciManifest, manifest);
        for (var i = 0; i < depth; i++)
        {
            var nested = Index([inner]);
            blobs.Add(nested);
            inner = Descriptor(OciIndex, nested);
        }

        Write(path, Index([inner]), blobs);
        return Sha256(manifest);
    }

    /// <summary>
    /// A valid one-image layout tar (what `infra push --to https://…` serves); its index names the image
    /// <paramref name="name"/> when given (e.g. python:3.10-slim) and its config carries <paramref name="labels"/>.
    /// Returns the image's manifest digest (the container hash).
    /// </summary>
    public static string Image(string path, string? name = null, IReadOnlyDictionary<string, string>? labels = null, string seed = "small")
    {
        var (blobs, manifest) = SmallImage(labels, seed);
        var descriptor = Descriptor(OciManifest, manifest);
        if (name is not null)
        {
            var tag = name[(name.LastIndexOf(':') + 1)..];
            descriptor = descriptor[..^1] + $",\"annotations\":{{\"io.containerd.image.name\":\"{name}\",\"org.opencontainers.image.ref.name\":\"{tag}\"}}}}";
        }

        Write(path, Index([descriptor]), blobs);
        return Sha256(manifest);
    }

    private static (List<byte[]> Blobs, byte[] Manifest) SmallImage(IReadOnlyDictionary<string, string>? labels = null, string seed = "small")
    {
        var layer = Layer(seed);
        var labelJson = labels is null ? "" :
            ",\"config\":{\"Labels\":{" + string.Join(',', labels.Select(l => $"{System.Text.Json.JsonSerializer.Serialize(l.Key)}:{System.Text.Json.JsonSerializer.Serialize(l.Value)}")) + "}}";
        var config = Encoding.UTF8.GetBytes($"{{\"architecture\":\"amd64\",\"os\":\"linux\"{labelJson},\"rootfs\":{{\"type\":\"layers\",\"diff_ids\":[\"{Sha256(layer)}\"]}}}}");
        var manifest = Encoding.UTF8.GetBytes($"{{\"schemaVersion\":2,\"mediaType\":\"{OciManifest}\",\"config\":{Descriptor(OciConfig, config)},\"layers\":[{Descriptor(OciLayer, layer)}]}}");
        return ([layer, config, manifest], manifest);
    }

    private static byte[] Index(IEnumerable<string> descriptors) =>
        Encoding.UTF8.GetBytes($"{{\"schemaVersion\":2,\"mediaType\":\"{OciIndex}\",\"manifests\":[{string.Join(',', descriptors)}]}}");

    private static string Descriptor(string mediaType, byte[] content) =>
        $"{{\"mediaType\":\"{mediaType}\",\"digest\":\"{Sha256(content)}\",\"size\":{content.Length}}}";

    public static string Sha256(byte[] content) => "sha256:" + Convert.ToHexStringLower(SHA256.HashData(content));

    private static byte[] Layer(string seed)
    {
        var ms = new MemoryStream();
        using (var w = new TarWriter(ms, TarEntryFormat.Ustar, leaveOpen: true))
        {
            w.WriteEntry(new UstarTarEntry(TarEntryType.RegularFile, $"{seed}.txt")
            {
                DataStream = new MemoryStream(Encoding.UTF8.GetBytes(seed + "\n")),
                ModificationTime = DateTimeOffset.UnixEpoch,
            });
        }

        return ms.ToArray();
    }

    private static void Write(string path, byte[] index, IEnumerable<byte[]> blobs)
    {
        using var file = File.Create(path);
        using var w = new TarWriter(file, TarEntryFormat.Pax);
        void Add(string name, byte[] content) =>
            w.WriteEntry(new PaxTarEntry(TarEntryType.RegularFile, name) { DataStream = new MemoryStream(content), ModificationTime = DateTimeOffset.UnixEpoch });
        Add("oci-layout", Encoding.UTF8.GetBytes("{\"imageLayoutVersion\":\"1.0.0\"}"));
        Add("index.json", index);
        foreach (var blob in blobs.DistinctBy(Sha256)) Add("blobs/sha256/" + Sha256(blob)["sha256:".Length..], blob);
    }
}
