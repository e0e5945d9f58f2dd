using InfraMind.Testing;

namespace InfraMind.Oci.Tests;

/// <summary>
/// Documents of a layout that parse as JSON but are not the kind they must be (an array for an object, a number for a
/// string): each is refused with the reader's stable code (IM4011 for a layout, IM4010 for a docker save archive),
/// never with .NET's InvalidOperationException, which a node reports as an internal error.
/// </summary>
public sealed class MalformedDocumentTests : IDisposable
{
    private readonly TempDirectory _dir = new("im-oci-malformed");

    public void Dispose() => _dir.Dispose();

    public static TheoryData<string, bool> Cases()
    {
        var data = new TheoryData<string, bool>();
        foreach (string c in new[] { "index array", "index string", "manifest array", "manifest number", "config array", "diff_id number", "diff_id null", "rootfs array" })
        {
            data.Add(c, false);
            data.Add(c, true);
        }

        data.Add("oci-layout array", false);
        data.Add("oci-layout version number", false);
        return data;
    }

    private static LayoutParts Broken(string what)
    {
        var parts = new LayoutParts();
        string diffIds = LayoutParts.DiffIds;
        return what switch
        {
            "index array" => parts with { Index = "[]" },
            "index string" => parts with { Index = "\"manifests\"" },
            "manifest array" => parts with { Manifest = "[]" },
            "manifest number" => parts with { Manifest = "7" },
            "config array" => parts with { Config = "[" + diffIds + "]" },
            "diff_id number" => parts with { Config = "{\"rootfs\":{\"diff_ids\":[1]}}" },
            "diff_id null" => parts with { Config = "{\"rootfs\":{\"diff_ids\":[null]}}" },
            "rootfs array" => parts with { Config = "{\"rootfs\":[" + diffIds + "]}" },
            "oci-layout array" => parts with { OciLayout = "[]" },
            "oci-layout version number" => parts with { OciLayout = "{\"imageLayoutVersion\":1}" },
            _ => throw new ArgumentOutOfRangeException(nameof(what)),
        };
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task A_document_of_the_wrong_kind_is_refused_with_the_readers_code(string what, bool asDockerSave)
    {
        var tar = Broken(what).Tar();
        var e = await Assert.ThrowsAsync<OciException>(() => LayoutParts.ReadAsync(tar, asDockerSave, _dir.Path));
        Assert.Equal(asDockerSave ? "IM4010" : "IM4011", e.Code);
        Assert.Contains(what switch
        {
            "index array" => "index.json is a JSON array, not an object",
            "index string" => "index.json is a JSON string, not an object",
            "manifest array" => "is a JSON array, not an object",
            "manifest number" => "is a JSON number, not an object",
            "config array" => "image config is a JSON array, not an object",
            "diff_id number" => "diff_ids/0 is a JSON number, not a digest string",
            "diff_id null" => "diff_ids/0 is a JSON null, not a digest string",
            "rootfs array" => "config lists 0",
            "oci-layout array" => "oci-layout is a JSON array, not an object",
            _ => "imageLayoutVersion",
        }, e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("1", "manifest.json/0/Layers/0 is a JSON number, not a file name")]
    [InlineData("{}", "manifest.json/0/Layers/0 is a JSON object, not a file name")]
    [InlineData("true", "manifest.json/0/Layers/0 is a JSON boolean, not a file name")]
    public async Task A_docker_save_manifest_json_naming_a_layer_by_a_non_string_is_refused_with_IM4010(string layer, string words)
    {
        var (l1, _, config) = TestArchives.Image();
        string configName = Digest.Compute(config).Hex + ".json";
        var tar = TestArchives.Tar(
            ("l.tar", l1, null),
            (configName, config, null),
            ("manifest.json", System.Text.Encoding.UTF8.GetBytes($"[{{\"Config\":\"{configName}\",\"Layers\":[{layer}]}}]"), null));
        var e = await Assert.ThrowsAsync<OciException>(() => LayoutParts.ReadAsync(tar, asDockerSave: true, _dir.Path));
        Assert.Equal("IM4010", e.Code);
        Assert.Contains(words, e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("{}", "manifest.json is a JSON object, not an array")]
    [InlineData("[]", "not a non-empty JSON array")]
    public async Task A_docker_save_manifest_json_that_is_not_a_list_of_images_is_refused_with_IM4010(string manifestJson, string words)
    {
        var tar = TestArchives.Tar(("manifest.json", System.Text.Encoding.UTF8.GetBytes(manifestJson), null));
        var e = await Assert.ThrowsAsync<OciException>(() => LayoutParts.ReadAsync(tar, asDockerSave: true, _dir.Path));
        Assert.Equal("IM4010", e.Code);
        Assert.Contains(words, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_parts_unbroken_are_a_valid_layout_for_both_readers()
    {
        var tar = new LayoutParts().Tar();
        Assert.Single((await LayoutParts.ReadAsync(tar, asDockerSave: false, _dir.Path)).Images);
        Assert.Single((await LayoutParts.ReadAsync(tar, asDockerSave: true, _dir.Path)).Images);
    }
}
