using System.Text;
using InfraMind.Oci.Layout;
using InfraMind.Testing;

namespace InfraMind.Oci.Tests;

/// <summary>Names and links inside a stranger's tar (<see cref="TarInput"/>) and how the importer follows them.</summary>
public sealed class TarInputTests : IDisposable
{
    private readonly TempDirectory _dir = new("im-oci-tarinput");

    public void Dispose() => _dir.Dispose();

    [Theory]
    [InlineData("a/b/c", "a/b/c")]
    [InlineData("/a//b/", "a/b")]
    [InlineData("./a/./b", "a/b")]
    [InlineData("a\\b\\c", "a/b/c")]
    [InlineData("a/../b", "b")]
    [InlineData("a/b/../../c", "c")]
    [InlineData("../../etc/passwd", "etc/passwd")]
    [InlineData("/../a/..", "")]
    [InlineData("..", "")]
    [InlineData("a/b/..", "a")]
    public void Entry_names_are_normalized_and_never_climb_out_of_the_tar(string name, string normalized)
    {
        Assert.Equal(normalized, TarInput.NormalizeEntryName(name));
    }

    [Theory]
    [InlineData("id3/layer.tar", "../id1/layer.tar", "id3/../id1/layer.tar")]
    [InlineData("id3/layer.tar", "/id1/layer.tar", "/id1/layer.tar")]
    [InlineData("layer.tar", "other.tar", "other.tar")]
    [InlineData("a/b/layer.tar", "c.tar", "a/b/c.tar")]
    public void A_symbolic_link_is_read_relative_to_its_entrys_directory(string entry, string link, string combined)
    {
        Assert.Equal(combined, TarInput.CombineLink(entry, link));
    }

    [Fact]
    public void The_entry_bound_counts_one_an_entry_and_refuses_the_one_past_it()
    {
        int entries = ArchiveLimits.MaxTarEntries - 1;
        TarInput.CountEntry(ref entries, "docker save archive");
        Assert.Equal(ArchiveLimits.MaxTarEntries, entries);
        var e = Assert.Throws<OciException>(() => TarInput.CountEntry(ref entries, "docker save archive"));
        Assert.Equal("IM4012", e.Code);
        Assert.Equal($"the docker save archive holds more than {ArchiveLimits.MaxTarEntries} entries; no image needs that many.", e.Message);
    }

    [Fact]
    public async Task Spooling_writes_the_bytes_and_returns_their_digest_and_size()
    {
        byte[] content = new byte[(1 << 20) + 17];
        new Random(5).NextBytes(content);
        string path = _dir.Combine("spooled");
        var (digest, size) = await TarInput.SpoolAsync(new MemoryStream(content), path, CancellationToken.None);
        Assert.Equal(Digest.Compute(content), digest);
        Assert.Equal(content.Length, size);
        Assert.Equal(content, await File.ReadAllBytesAsync(path));
    }

    /// <summary>A docker save archive whose manifest.json names its one layer through a chain of <paramref name="links"/> symbolic links.</summary>
    private static byte[] LinkedArchive(int links, bool hard = false)
    {
        byte[] layer = TestArchives.Layer("linked");
        byte[] config = Encoding.UTF8.GetBytes($"{{\"rootfs\":{{\"type\":\"layers\",\"diff_ids\":[\"{Digest.Compute(layer)}\"]}}}}");
        var entries = new List<(string, byte[]?, string?)> { ("l0/layer.tar", layer, null), ("c.json", config, null) };
        for (int i = 1; i <= links; i++)
        {
            entries.Add(hard ? ($"l{i}/layer.tar", null, $"l{i - 1}/layer.tar") : ($"l{i}/layer.tar", null, $"../l{i - 1}/layer.tar"));
        }

        entries.Add(("manifest.json", Encoding.UTF8.GetBytes($"[{{\"Config\":\"c.json\",\"RepoTags\":[\"linked:1\"],\"Layers\":[\"l{links}/layer.tar\"]}}]"), null));
        return hard ? HardLinked([.. entries]) : TestArchives.Tar([.. entries]);
    }

    private static byte[] HardLinked((string Name, byte[]? Content, string? Link)[] entries)
    {
        var ms = new MemoryStream();
        using (var w = new System.Formats.Tar.TarWriter(ms, System.Formats.Tar.TarEntryFormat.Ustar, leaveOpen: true))
        {
            foreach (var (name, content, link) in entries)
            {
                w.WriteEntry(link is not null
                    ? new System.Formats.Tar.UstarTarEntry(System.Formats.Tar.TarEntryType.HardLink, name) { LinkName = link }
                    : new System.Formats.Tar.UstarTarEntry(System.Formats.Tar.TarEntryType.RegularFile, name) { DataStream = new MemoryStream(content!) });
            }
        }

        return ms.ToArray();
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_chain_of_15_links_is_followed_and_one_of_16_is_refused(bool hard)
    {
        var layout = await LayoutParts.ReadAsync(LinkedArchive(15, hard), asDockerSave: true, _dir.Path);
        var layer = Assert.Single(Assert.Single(layout.Images).Layers);
        Assert.Equal(Digest.Compute(TestArchives.Layer("linked")), await DiffIdOfAsync(layout, layer));

        var e = await Assert.ThrowsAsync<OciException>(() => LayoutParts.ReadAsync(LinkedArchive(16, hard), asDockerSave: true, _dir.Path));
        Assert.Equal("IM4010", e.Code);
        Assert.Contains("names layer 'l16/layer.tar' but does not contain it", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Links_in_a_loop_are_refused_not_followed_forever()
    {
        byte[] config = Encoding.UTF8.GetBytes("{\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"" + Digest.Compute([]) + "\"]}}");
        var tar = TestArchives.Tar(
            ("a.tar", null, "b.tar"),
            ("b.tar", null, "a.tar"),
            ("c.json", config, null),
            ("manifest.json", Encoding.UTF8.GetBytes("[{\"Config\":\"c.json\",\"Layers\":[\"a.tar\"]}]"), null));
        var e = await Assert.ThrowsAsync<OciException>(() => LayoutParts.ReadAsync(tar, asDockerSave: true, _dir.Path));
        Assert.Equal("IM4010", e.Code);
        Assert.Contains("names layer 'a.tar' but does not contain it", e.Message, StringComparison.Ordinal);
    }

    private static async Task<Digest> DiffIdOfAsync(OciLayout layout, Descriptor layer)
    {
        await using var tar = new System.IO.Compression.GZipStream(File.OpenRead(layout.BlobPath(layer.Digest)), System.IO.Compression.CompressionMode.Decompress);
        return (await Digest.ComputeAsync(tar, CancellationToken.None)).Digest;
    }
}
