using System.Formats.Tar;
using System.Text;
using System.Text.Json;
using InfraMind.Oci;

namespace InfraMind.Storage.Tests.Content;

/// <summary>Small <c>docker save</c> archives built in memory, so storage tests need no engine.</summary>
internal static class SmallImage
{
    /// <summary>A legacy docker save archive of two layers; <paramref name="layerSize"/> bytes of seeded noise in the second; an empty <paramref name="tag"/> names it nothing.</summary>
    public static byte[] DockerSave(string seed, int layerSize = 4096, string tag = "demo/model:1.0", string? firstLayer = null)
    {
        // Two images of one firstLayer share that layer (a base image's, say).
        byte[] l1 = Layer("hello.txt", Encoding.UTF8.GetBytes("hello " + (firstLayer ?? seed) + "\n"));
        var noise = new byte[layerSize];
        new Random(seed.GetHashCode(StringComparison.Ordinal)).NextBytes(noise);
        byte[] l2 = Layer("data.bin", noise);
        byte[] config = Encoding.UTF8.GetBytes(JsonSerializer.Serialize(new
        {
            architecture = "amd64",
            os = "linux",
            config = new { Cmd = new[] { "/bin/true" } },
            rootfs = new { type = "layers", diff_ids = new[] { Digest.Compute(l1).Value, Digest.Compute(l2).Value } },
        }));
        string configName = Digest.Compute(config).Hex + ".json";
        var ms = new MemoryStream();
        using (var w = new TarWriter(ms, TarEntryFormat.Ustar, leaveOpen: true))
        {
            void Add(string name, byte[] content) => w.WriteEntry(new UstarTarEntry(TarEntryType.RegularFile, name) { DataStream = new MemoryStream(content) });
            Add("l1/layer.tar", l1);
            Add("l2/layer.tar", l2);
            Add(configName, config);
            Add("manifest.json", Encoding.UTF8.GetBytes($"[{{\"Config\":\"{configName}\",\"RepoTags\":[{(tag.Length == 0 ? "" : $"\"{tag}\"")}],\"Layers\":[\"l1/layer.tar\",\"l2/layer.tar\"]}}]"));
        }

        return ms.ToArray();
    }

    public static async Task<ImageArchive> ImportAsync(LocalContentStore store, string seed, int layerSize = 4096, string tag = "demo/model:1.0", string? firstLayer = null) =>
        await store.ImportDockerArchiveAsync(new MemoryStream(DockerSave(seed, layerSize, tag, firstLayer)), CancellationToken.None);

    private static byte[] Layer(string name, byte[] content)
    {
        var ms = new MemoryStream();
        using (var w = new TarWriter(ms, TarEntryFormat.Ustar, leaveOpen: true))
        {
            w.WriteEntry(new UstarTarEntry(TarEntryType.RegularFile, name)
            {
                DataStream = new MemoryStream(content),
                ModificationTime = new DateTimeOffset(2024, 1, 2, 3, 4, 5, TimeSpan.Zero),
            });
        }

        return ms.ToArray();
    }

    /// <summary>Every file under the store's blobs and staging directories: what a failed pull must not leave.</summary>
    public static List<string> StoredFiles(LocalContentStore store) =>
        Directory.Exists(store.Root)
            ? Directory.GetFiles(store.Root, "*", SearchOption.AllDirectories)
                .Where(f => !f.EndsWith("oci-layout", StringComparison.Ordinal) && !f.EndsWith(".lock", StringComparison.Ordinal))
                .ToList()
            : [];

    public static void FlipByte(string path, long offset = -1)
    {
        using var f = new FileStream(path, FileMode.Open, FileAccess.ReadWrite);
        f.Position = offset >= 0 ? offset : f.Length / 2;
        int b = f.ReadByte();
        f.Position--;
        f.WriteByte((byte)(b ^ 0x01));
    }
}
