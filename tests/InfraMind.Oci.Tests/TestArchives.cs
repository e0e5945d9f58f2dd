using System.Formats.Tar;
using System.Text;
using System.Text.Json;

namespace InfraMind.Oci.Tests;

/// <summary>Builds small <c>docker save</c> archives in both formats Docker writes, for the same image.</summary>
internal static class TestArchives
{
    public static byte[] Layer(string seed)
    {
        var ms = new MemoryStream();
        using (var w = new TarWriter(ms, TarEntryFormat.Ustar, leaveOpen: true))
        {
            w.WriteEntry(new UstarTarEntry(TarEntryType.RegularFile, $"opt/{seed}.txt")
            {
                DataStream = new MemoryStream(Encoding.UTF8.GetBytes($"content of {seed}\n")),
                ModificationTime = new DateTimeOffset(2024, 1, 2, 3, 4, 5, TimeSpan.Zero), // layers are content: fixed
            });
        }

        return ms.ToArray();
    }

    public static (byte[] Layer1, byte[] Layer2, byte[] Config) Image()
    {
        byte[] l1 = Layer("one");
        byte[] l2 = Layer("two");
        string config = JsonSerializer.Serialize(new
        {
            architecture = "amd64",
            os = "linux",
            config = new { Cmd = new[] { "python3", "-m", "http.server" } },
            rootfs = new
            {
                type = "layers",
                diff_ids = new[] { Digest.Compute(l1).Value, Digest.Compute(l2).Value, Digest.Compute(l1).Value },
            },
        });
        return (l1, l2, Encoding.UTF8.GetBytes(config));
    }

    /// <summary>The format of Docker up to 24: &lt;id&gt;/layer.tar, a repeated layer as a symlink.</summary>
    public static byte[] Legacy(string tag = "demo/model:1.0")
    {
        var (l1, l2, config) = Image();
        string configName = Digest.Compute(config).Hex + ".json";
        return Tar(
            ("id1/", null, null),
            ("id1/VERSION", Encoding.UTF8.GetBytes("1.0"), null),
            ("id1/layer.tar", l1, null),
            ("id2/", null, null),
            ("id2/layer.tar", l2, null),
            ("id3/", null, null),
            ("id3/layer.tar", null, "../id1/layer.tar"),
            (configName, config, null),
            ("manifest.json", Encoding.UTF8.GetBytes($"[{{\"Config\":\"{configName}\",\"RepoTags\":[\"{tag}\"],\"Layers\":[\"id1/layer.tar\",\"id2/layer.tar\",\"id3/layer.tar\"]}}]"), null),
            ("repositories", Encoding.UTF8.GetBytes("{\"demo/model\":{\"1.0\":\"id3\"}}"), null));
    }

    /// <summary>The format of Docker 25+: an OCI layout plus manifest.json pointing into blobs/.</summary>
    public static byte[] Docker25(string tag = "demo/model:1.0", bool withManifestJson = true)
    {
        var (l1, l2, config) = Image();
        string B(byte[] b) => "blobs/sha256/" + Digest.Compute(b).Hex;
        string dockerManifest = JsonSerializer.Serialize(new
        {
            schemaVersion = 2,
            mediaType = MediaTypes.DockerManifest,
            config = new { mediaType = MediaTypes.DockerConfig, digest = Digest.Compute(config).Value, size = config.Length },
            layers = new[] { l1, l2, l1 }.Select(l => new { mediaType = MediaTypes.DockerLayerTar, digest = Digest.Compute(l).Value, size = l.Length }),
        });
        byte[] m = Encoding.UTF8.GetBytes(dockerManifest);
        string index = $"{{\"schemaVersion\":2,\"mediaType\":\"{MediaTypes.OciIndex}\",\"manifests\":[{{\"mediaType\":\"{MediaTypes.DockerManifest}\",\"digest\":\"{Digest.Compute(m)}\",\"size\":{m.Length},\"annotations\":{{\"io.containerd.image.name\":\"{tag}\",\"org.opencontainers.image.ref.name\":\"1.0\"}}}}]}}";
        var entries = new List<(string, byte[]?, string?)>
        {
            ("blobs/", null, null),
            ("blobs/sha256/", null, null),
            (B(l1), l1, null),
            (B(l2), l2, null),
            (B(config), config, null),
            (B(m), m, null),
            ("index.json", Encoding.UTF8.GetBytes(index), null),
            ("manifest.json", Encoding.UTF8.GetBytes($"[{{\"Config\":\"{B(config)}\",\"RepoTags\":[\"{tag}\"],\"Layers\":[\"{B(l1)}\",\"{B(l2)}\",\"{B(l1)}\"]}}]"), null),
            ("oci-layout", Encoding.UTF8.GetBytes("{\"imageLayoutVersion\": \"1.0.0\"}"), null),
            ("repositories", Encoding.UTF8.GetBytes("{}"), null),
        };
        if (!withManifestJson)
        {
            entries.RemoveAll(e => e.Item1 == "manifest.json");
        }

        return Tar([.. entries]);
    }

    public static byte[] Tar(params (string Name, byte[]? Content, string? Link)[] entries)
    {
        var ms = new MemoryStream();
        using (var w = new TarWriter(ms, TarEntryFormat.Pax, leaveOpen: true))
        {
            foreach (var (name, content, link) in entries)
            {
                PaxTarEntry e = link is not null
                    ? new PaxTarEntry(TarEntryType.SymbolicLink, name) { LinkName = link }
                    : content is null
                        ? new PaxTarEntry(TarEntryType.Directory, name)
                        : new PaxTarEntry(TarEntryType.RegularFile, name) { DataStream = new MemoryStream(content) };
                e.ModificationTime = DateTimeOffset.UtcNow;
                w.WriteEntry(e);
            }
        }

        return ms.ToArray();
    }

    public static List<(TarEntry Entry, byte[] Content)> ReadTar(byte[] tar)
    {
        var list = new List<(TarEntry, byte[])>();
        using var r = new TarReader(new MemoryStream(tar));
        while (r.GetNextEntry(copyData: true) is { } e)
        {
            var content = new MemoryStream();
            e.DataStream?.CopyTo(content);
            list.Add((e, content.ToArray()));
        }

        return list;
    }
}
