using InfraMind.Testing;

namespace InfraMind.Oci.Tests;

/// <summary>
/// Archives made to steer the reader (#13 §3): every bound of <see cref="ArchiveLimits"/> holds on both readers (the
/// layout extractor and the docker save importer, which also reads OCI-only archives), with IM4012 naming the bound.
/// </summary>
public sealed class HostileArchiveTests : IDisposable
{
    private readonly TempDirectory _dir = new("im-hostile");

    public void Dispose() => _dir.Dispose();

    private async Task<OciLayout> ExtractAsync(string tar, bool asDockerSave = false)
    {
        await using var input = File.OpenRead(tar);
        var target = _dir.Combine("out-" + Guid.NewGuid().ToString("N"));
        return asDockerSave
            ? await OciImageLayout.ImportDockerArchiveAsync(input, target, CancellationToken.None)
            : await OciImageLayout.ExtractAsync(input, target, CancellationToken.None);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task An_index_listing_one_8MB_manifest_300_times_is_refused_before_any_manifest_is_read(bool asDockerSave)
    {
        // 48 KB of index naming an 8 MB manifest of 64 000 layers: on the old reader 163 s and 8.3 GB peak RSS here.
        var tar = _dir.Combine("repeated.tar");
        HostileArchives.RepeatedManifest(tar);
        var e = await Assert.ThrowsAsync<OciException>(() => ExtractAsync(tar, asDockerSave));
        Assert.Equal(OciErrorCodes.ArchiveLimit, e.Code);
        Assert.Contains("lists 300 manifests", e.Message, StringComparison.Ordinal);
        Assert.Contains(ArchiveLimits.MaxIndexEntries.ToString(System.Globalization.CultureInfo.InvariantCulture), e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_manifest_listed_many_times_within_the_bound_is_one_image_and_too_many_layers_are_refused(bool asDockerSave)
    {
        var tar = _dir.Combine("repeated-small.tar");
        HostileArchives.RepeatedManifest(tar, repeats: 60, layers: 3);
        var layout = await ExtractAsync(tar, asDockerSave);
        Assert.Single(layout.Images);
        Assert.Equal(3, layout.Images[0].Layers.Count);

        HostileArchives.RepeatedManifest(tar, repeats: 1, layers: ArchiveLimits.MaxLayers + 1);
        var e = await Assert.ThrowsAsync<OciException>(() => ExtractAsync(tar, asDockerSave));
        Assert.Equal(OciErrorCodes.ArchiveLimit, e.Code);
        Assert.Contains($"{ArchiveLimits.MaxLayers + 1} layers", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Indexes_nested_past_the_bound_are_refused_and_within_it_read(bool asDockerSave)
    {
        var tar = _dir.Combine("nested.tar");
        HostileArchives.NestedIndexes(tar, ArchiveLimits.MaxIndexDepth);
        Assert.Single((await ExtractAsync(tar, asDockerSave)).Images);

        HostileArchives.NestedIndexes(tar, ArchiveLimits.MaxIndexDepth + 1);
        var e = await Assert.ThrowsAsync<OciException>(() => ExtractAsync(tar, asDockerSave));
        Assert.Equal(OciErrorCodes.ArchiveLimit, e.Code);
        Assert.Contains("nest deeper", e.Message, StringComparison.Ordinal);
    }

    /// <summary>
    /// An archive of nothing but entries (directories: a header each, no content) costs a reader a header parse and a
    /// name check per entry: one past <see cref="ArchiveLimits.MaxTarEntries"/> is refused by both readers, which
    /// otherwise read on to the end and fail on what is missing.
    /// </summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task An_archive_of_more_entries_than_the_bound_is_refused_with_IM4012(bool asDockerSave)
    {
        var tar = _dir.Combine("entries.tar");
        await File.WriteAllBytesAsync(tar, TestArchives.Tar([.. Enumerable.Range(0, ArchiveLimits.MaxTarEntries + 1).Select(i => ($"d{i}/", (byte[]?)null, (string?)null))]));
        var e = await Assert.ThrowsAsync<OciException>(() => ExtractAsync(tar, asDockerSave));
        Assert.Equal(OciErrorCodes.ArchiveLimit, e.Code);
        Assert.Contains($"holds more than {ArchiveLimits.MaxTarEntries} entries", e.Message, StringComparison.Ordinal);
    }

    /// <summary>
    /// index.json and oci-layout are copied out of a layout tar before they are read: one whose header says it is
    /// larger than a JSON document of an image may be is refused on that header, before a byte of it is written.
    /// </summary>
    [Fact]
    public async Task A_layout_tar_whose_index_json_is_larger_than_the_bound_is_refused_on_its_header()
    {
        var tar = _dir.Combine("big-index.tar");
        var size = ArchiveLimits.MaxManifestBytes + 1;
        await File.WriteAllBytesAsync(tar, TestArchives.Tar(
            ("oci-layout", System.Text.Encoding.UTF8.GetBytes("{\"imageLayoutVersion\":\"1.0.0\"}"), null),
            ("index.json", new byte[size], null)));
        var e = await Assert.ThrowsAsync<OciException>(() => ExtractAsync(tar));
        Assert.Equal(OciErrorCodes.ArchiveLimit, e.Code);
        Assert.Contains($"index.json in the layout tar is {size} bytes", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_docker_save_manifest_json_with_too_many_images_is_refused()
    {
        var (l1, _, config) = TestArchives.Image();
        var configName = Digest.Compute(config).Hex + ".json";
        var one = $"{{\"Config\":\"{configName}\",\"RepoTags\":[],\"Layers\":[\"l.tar\",\"l.tar\",\"l.tar\"]}}";
        var tar = _dir.Combine("many.tar");
        await File.WriteAllBytesAsync(tar, TestArchives.Tar(
            ("l.tar", l1, null),
            (configName, config, null),
            ("manifest.json", System.Text.Encoding.UTF8.GetBytes("[" + string.Join(',', Enumerable.Repeat(one, ArchiveLimits.MaxImages + 1)) + "]"), null)));
        var e = await Assert.ThrowsAsync<OciException>(() => ExtractAsync(tar, asDockerSave: true));
        Assert.Equal(OciErrorCodes.ArchiveLimit, e.Code);
    }
}
