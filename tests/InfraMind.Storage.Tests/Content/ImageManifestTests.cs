using System.Text;
using InfraMind.Oci;

namespace InfraMind.Storage.Tests.Content;

public sealed class ImageManifestTests
{
    private const string Config = "{\"mediaType\":\"application/vnd.oci.image.config.v1+json\",\"digest\":\"sha256:" + "0000000000000000000000000000000000000000000000000000000000000000" + "\",\"size\":2}";

    [Fact]
    public void Oci_and_docker_manifests_give_config_and_layers()
    {
        var oci = ImageManifest.Parse(Encoding.UTF8.GetBytes($"{{\"schemaVersion\":2,\"config\":{Config},\"layers\":[{Config.Replace("config.v1+json", "layer.v1.tar", StringComparison.Ordinal)}]}}"), "m");
        Assert.Equal(MediaTypes.OciManifest, oci.MediaType);
        Assert.Single(oci.Layers);
        var docker = ImageManifest.Parse(Encoding.UTF8.GetBytes($"{{\"schemaVersion\":2,\"mediaType\":\"{MediaTypes.DockerManifest}\",\"config\":{Config},\"layers\":[]}}"), "m");
        Assert.Equal(MediaTypes.DockerManifest, docker.MediaType);
    }

    [Theory]
    [InlineData("{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.index.v1+json\",\"manifests\":[]}", "image index", "by its digest")]
    [InlineData("{\"schemaVersion\":1,\"name\":\"x\",\"fsLayers\":[]}", "schema 1", "push the image again")]
    public void Indexes_and_schema_1_are_refused_with_what_to_do(string json, string what, string todo)
    {
        var e = Assert.Throws<StorageException>(() => ImageManifest.Parse(Encoding.UTF8.GetBytes(json), "manifest oci://127.0.0.1:5000/x:1"));
        Assert.Equal(StorageErrorCodes.UnsupportedManifest, e.Code);
        Assert.Contains(what, e.Message);
        Assert.Contains("oci://127.0.0.1:5000/x:1", e.Message);
        // What to do is the hint, which the command line prints and --json gives.
        Assert.Contains(todo, e.Hint, StringComparison.Ordinal);
    }

    [Fact]
    public void Not_json_is_an_invalid_layout_error()
    {
        var e = Assert.Throws<OciException>(() => ImageManifest.Parse(Encoding.UTF8.GetBytes("<html>"), "manifest m"));
        Assert.Equal(OciErrorCodes.InvalidLayout, e.Code);
    }
}
