using InfraMind.Oci;

namespace InfraMind.Storage.Tests.Content;

public sealed class ContentReferenceTests
{
    private const string Hex = "00ee6d710424c36bb4ffba119fd26609c8179d393c81c4d1b9f30a0449c0ec41";

    [Theory]
    [InlineData("oci://127.0.0.1:5000/models/summarizer:0.4.2", "127.0.0.1:5000", "models/summarizer", "0.4.2", null)]
    [InlineData("oci://127.0.0.1:5000/summarizer@sha256:" + Hex, "127.0.0.1:5000", "summarizer", null, "sha256:" + Hex)]
    [InlineData("oci://r.example.org/a/b:1@sha256:" + Hex, "r.example.org", "a/b", "1", "sha256:" + Hex)]
    [InlineData("docker://localhost/x_y/z-1:latest", "localhost", "x_y/z-1", "latest", null)]
    [InlineData("127.0.0.1:5000/summarizer:1", "127.0.0.1:5000", "summarizer", "1", null)]
    [InlineData("r.example.org/team/model", "r.example.org", "team/model", null, null)]
    public void Oci_references_parse(string text, string registry, string repository, string? tag, string? digest)
    {
        var r = Assert.IsType<OciReference>(ContentReference.Parse(text));
        Assert.Equal(registry, r.Registry);
        Assert.Equal(repository, r.Repository);
        Assert.Equal(tag, r.Tag);
        Assert.Equal(digest, r.Digest?.Value);
        Assert.Equal(r, ContentReference.Parse(r.ToString()));
    }

    [Fact]
    public void Loopback_registries_use_http_and_others_https()
    {
        Assert.Equal("http://127.0.0.1:5000/", ((OciReference)ContentReference.Parse("oci://127.0.0.1:5000/a:1")).BaseUri.ToString());
        Assert.Equal("https://r.example.org/", ((OciReference)ContentReference.Parse("oci://r.example.org/a:1")).BaseUri.ToString());
    }

    [Fact]
    public void Http_references_carry_the_file_digest()
    {
        var r = Assert.IsType<HttpReference>(ContentReference.Parse($"https://cdn.example.org/images/x.tar#sha256={Hex}"));
        Assert.Equal("sha256:" + Hex, r.Digest?.Value);
        Assert.Equal("https://cdn.example.org/images/x.tar", r.Url.ToString());
        Assert.Equal($"https://cdn.example.org/images/x.tar#sha256={Hex}", r.ToString());
        Assert.IsType<HttpReference>(ContentReference.Parse($"http://127.0.0.1:8080/x.tar#sha256={Hex}"));
        Assert.IsType<HttpReference>(ContentReference.ParseTarget("http://127.0.0.1:8080/images/"));
    }

    [Fact]
    public void Local_file_and_ipfs_references_parse()
    {
        Assert.Equal(new LocalReference(null, null), ContentReference.Parse("local"));
        Assert.Equal(Digest.Parse("sha256:" + Hex), ((LocalReference)ContentReference.Parse("local://sha256:" + Hex)).ManifestDigest);
        Assert.Equal("summarizer-v1:0.4.2", ((LocalReference)ContentReference.Parse("local://summarizer-v1:0.4.2")).Name);
        Assert.Equal("/tmp/x.tar", ((FileReference)ContentReference.Parse("file:///tmp/x.tar")).Path);
        var ipfs = Assert.IsType<IpfsReference>(ContentReference.Parse("ipfs://QmYwAPJzv5CZsnA625s3Xf2nemtYgPpHdWEz79ojWnPbdG"));
        Assert.Equal("QmYwAPJzv5CZsnA625s3Xf2nemtYgPpHdWEz79ojWnPbdG", ipfs.Cid!.ToString());
        Assert.Equal("ipfs://QmYwAPJzv5CZsnA625s3Xf2nemtYgPpHdWEz79ojWnPbdG", ipfs.ToString());
        Assert.Equal("ipfs", ContentReference.ParseTarget("ipfs").ToString());
        Assert.Equal("127.0.0.1:5001", ((IpfsReference)ContentReference.ParseTarget("ipfs://127.0.0.1:5001")).Api!.Authority);
    }

    [Theory]
    [InlineData("", "empty")]
    [InlineData("summarizer:1", "no scheme")]
    [InlineData("oci://summarizer:1", "registry host")]
    [InlineData("oci://models/summarizer:1", "not a registry host")]
    [InlineData("oci://127.0.0.1:5000/Upper:1", "repository 'Upper'")]
    [InlineData("oci://127.0.0.1:5000/a:-bad", "tag '-bad'")]
    [InlineData("oci://127.0.0.1:5000/a@sha256:abc", "after '@'")]
    [InlineData("oci://127.0.0.1:99999/a:1", "host[:port]")]
    [InlineData("https://cdn.example.org/x.tar", "#sha256=")]
    [InlineData("https://cdn.example.org/x.tar#md5=abc", "#sha256=<64")]
    [InlineData("http://cdn.example.org/x.tar#sha256=" + Hex, "only allowed to this machine")]
    [InlineData("https://u:p@cdn.example.org/x.tar#sha256=" + Hex, "credentials")]
    [InlineData("ipfs://notacid", "not a CID")]
    [InlineData("ipfs", "names no content")]
    [InlineData("local://sha256:XYZ", "64 lower-case hex")]
    [InlineData("ftp://host/x", "'ftp://' is not supported")]
    [InlineData("summarizer:1.0.0", "an image of the container engine (as `infra build` tags it) is published by the reference `infra push DIR` prints")]
    [InlineData("summarizer", "it has no scheme and is not host/repository[:tag]")]
    public void Invalid_references_say_why_and_show_the_valid_forms(string text, string reason)
    {
        var e = Assert.Throws<StorageException>(() => ContentReference.Parse(text));
        Assert.Equal(StorageErrorCodes.InvalidReference, e.Code);
        Assert.DoesNotContain("IM4201", e.Message);
        Assert.Contains(reason, e.Message);
        Assert.Contains("Valid forms: ipfs://<cid>", e.Message);
    }

    [Theory]
    [InlineData("oci://127.0.0.1:5000/a@sha256:" + Hex, "not a digest")]
    [InlineData("https://cdn.example.org/x.tar#sha256=" + Hex, "computes it")]
    [InlineData("ipfs://QmYwAPJzv5CZsnA625s3Xf2nemtYgPpHdWEz79ojWnPbdG", "names existing content")]
    public void Push_targets_refuse_digests(string text, string reason)
    {
        var e = Assert.Throws<StorageException>(() => ContentReference.ParseTarget(text));
        Assert.Contains(reason, e.Message);
        Assert.Contains("Valid destinations:", e.Message);
    }
}
