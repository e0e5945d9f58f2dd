using InfraMind.Oci;
using InfraMind.Storage.Ipfs;

namespace InfraMind.Storage.Tests.Content;

/// <summary>
/// Each form of a reference at its edges: what a scheme's case and surrounding space change (nothing), ports at their
/// ends, IPv6 hosts, tags at 128 characters and 129, which hosts plain http may name, what a CID's path and version
/// make of the import settings, push targets, and how each reference prints back.
/// </summary>
public sealed class ContentReferenceEdgeTests
{
    private const string Hex = "00ee6d710424c36bb4ffba119fd26609c8179d393c81c4d1b9f30a0449c0ec41";
    private const string V0 = "QmYwAPJzv5CZsnA625s3Xf2nemtYgPpHdWEz79ojWnPbdG";
    private const string V1Raw = "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku";

    private static string Refused(string text, bool push = false)
    {
        Assert.True(push || !ContentReference.TryParse(text, out _, out _));
        var e = Assert.Throws<StorageException>(() => push ? ContentReference.ParseTarget(text) : ContentReference.Parse(text));
        Assert.Equal(StorageErrorCodes.InvalidReference, e.Code);
        return e.Message;
    }

    [Theory]
    [InlineData("  local\t", "local")]
    [InlineData("LOCAL", "local")]
    [InlineData("local://", "local")]
    [InlineData("LOCAL://sha256:" + Hex, "local://sha256:" + Hex)]
    [InlineData("local://sha256-" + Hex, "local://sha256:" + Hex)]
    [InlineData("local://team/summarizer-v1:0.4.2", "local://team/summarizer-v1:0.4.2")]
    [InlineData("IPFS://" + V0, "ipfs://" + V0)]
    [InlineData("ipfs://" + V0 + "/", "ipfs://" + V0)]
    [InlineData("ipfs://" + V0 + "/image.tar/", "ipfs://" + V0 + "/image.tar")]
    [InlineData("ipfs://" + V0 + "/a/b", "ipfs://" + V0 + "/a/b")]
    [InlineData("OCI://R.Example.org/a:1", "oci://r.example.org/a:1")]
    [InlineData("docker://[::1]:5000/a@sha256:" + Hex, "oci://[::1]:5000/a@sha256:" + Hex)]
    [InlineData("oci://[::1]/a", "oci://[::1]/a")]
    [InlineData("oci://r.example.org:65535/a", "oci://r.example.org:65535/a")]
    [InlineData("oci://r.example.org:1/a", "oci://r.example.org:1/a")]
    [InlineData("localhost/a__b/c.d/e---f", "oci://localhost/a__b/c.d/e---f")]
    [InlineData("https://cdn.example.org/x.tar?v=1#sha256=" + Hex, "https://cdn.example.org/x.tar?v=1#sha256=" + Hex)]
    [InlineData("HTTP://LOCALHOST:8080/x.tar#sha256=" + Hex, "http://localhost:8080/x.tar#sha256=" + Hex)]
    [InlineData("http://127.0.0.2/x.tar#sha256=" + Hex, "http://127.0.0.2/x.tar#sha256=" + Hex)]
    [InlineData("http://[::1]:8080/x.tar#sha256=" + Hex, "http://[::1]:8080/x.tar#sha256=" + Hex)]
    [InlineData("file://localhost/tmp/x.tar", "file:///tmp/x.tar")]
    public void References_parse_to_their_one_printed_form(string text, string printed)
    {
        var reference = ContentReference.Parse(text);
        Assert.Equal(printed, reference.ToString());
        Assert.Equal(reference, ContentReference.Parse(printed));
        Assert.True(ContentReference.TryParse(text, out var again, out string error));
        Assert.Equal(reference, again);
        Assert.Equal(string.Empty, error);
    }

    [Theory]
    [InlineData("oci://r.example.org:0/a", "is not a valid host[:port]")]
    [InlineData("oci://r.example.org:65536/a", "is not a valid host[:port]")]
    [InlineData("oci://r.example.org:/a", "is not a valid host[:port]")]
    [InlineData("oci://r.example.org:+1/a", "is not a valid host[:port]")]
    [InlineData("oci://[::1]:0/a", "is not a valid host[:port]")]
    [InlineData("oci://a..b/c", "is not a valid host[:port]")]
    [InlineData("oci:///a", "needs a registry host and a repository")]
    [InlineData("oci://r.example.org", "needs a registry host and a repository")]
    [InlineData("oci://r.example.org/", "repository '' is not valid")]
    [InlineData("oci://r.example.org/a/", "repository 'a/' is not valid")]
    [InlineData("oci://r.example.org/a:", "tag '' is not valid")]
    [InlineData("oci://r.example.org/a:.x", "tag '.x' is not valid")]
    [InlineData("oci://r.example.org/a@sha256:" + Hex + "x", "after '@' is not sha256:")]
    [InlineData("local://sha256-XYZ", "64 lower-case hex digits")]
    [InlineData("local://Summarizer:1", "or an image name such as")]
    [InlineData("local://summarizer", "or an image name such as")]
    [InlineData("ipfs://" + V0 + "x", "is not a CID (CIDv0 'Qm…' or CIDv1 'b…')")]
    [InlineData("ipfs://127.0.0.1:5001", "is not a CID")]
    [InlineData("file://otherhost/tmp/x.tar", "write file:///absolute/path")]
    [InlineData("https:///x.tar#sha256=" + Hex, "not an absolute http(s) URL")]
    [InlineData("https://cdn.example.org/x.tar#sha256=" + Hex + "0", "#sha256=<64 lower-case hex digits>")]
    [InlineData("https://cdn.example.org/x.tar#sha256=", "#sha256=<64 lower-case hex digits>")]
    [InlineData("https://cdn.example.org/x.tar#sha512=" + Hex, "the fragment '#sha512=" + Hex + "' must be #sha256=")]
    [InlineData("https://cdn.example.org/x.tar#SHA256=" + Hex, "must be #sha256=<64 lower-case hex digits>")]
    [InlineData("https://cdn.example.org/x.tar", "must end in #sha256=<64 hex digits>, the digest of the file, because the server is not trusted")]
    [InlineData("oci://r.example.org/a@sha256:" + Hex + "x", "'sha256:" + Hex + "x' after '@'")]
    [InlineData("http://127.0.0.1.example.org/x.tar#sha256=" + Hex, "only allowed to this machine")]
    [InlineData("http://[::2]/x.tar#sha256=" + Hex, "only allowed to this machine")]
    [InlineData("http://cdn.example.org/x.tar?q=1#sha256=" + Hex, "use https://cdn.example.org/x.tar?q=1")]
    [InlineData("https://user@cdn.example.org/x.tar#sha256=" + Hex, "credentials do not belong")]
    public void Malformed_references_say_what_is_wrong(string text, string reason)
    {
        var message = Refused(text);
        Assert.Contains(reason, message, StringComparison.Ordinal);
        Assert.Contains("is not a content reference: ", message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_tag_has_at_most_128_characters()
    {
        string tag = "_" + new string('v', 127);
        Assert.Equal(tag, ((OciReference)ContentReference.Parse("oci://r.example.org/a:" + tag)).Tag);
        Assert.Contains("is not valid", Refused("oci://r.example.org/a:" + tag + "v"), StringComparison.Ordinal);
        Assert.Contains("or an image name such as", Refused("local://a:" + tag + "v"), StringComparison.Ordinal);
        Assert.Equal("a:" + tag, ((LocalReference)ContentReference.Parse("local://a:" + tag)).Name);
    }

    [Fact]
    public void The_manifest_reference_is_the_digest_then_the_tag_then_latest()
    {
        var digest = Digest.Parse("sha256:" + Hex);
        var tagged = (OciReference)ContentReference.Parse("oci://r.example.org/a:1");
        Assert.Equal("1", tagged.ManifestReference);
        Assert.Equal(digest.Value, tagged.WithDigest(digest).ManifestReference);
        Assert.Equal("1", tagged.WithDigest(digest).Tag);
        Assert.Equal("latest", ((OciReference)ContentReference.Parse("oci://r.example.org/a")).ManifestReference);
        Assert.Equal("http://[::1]:5000/", ((OciReference)ContentReference.Parse("oci://[::1]:5000/a")).BaseUri.ToString());
        Assert.Equal("http://localhost:5000/", ((OciReference)ContentReference.Parse("oci://localhost:5000/a")).BaseUri.ToString());
        Assert.Equal("https://[2001:db8::1]:5000/", ((OciReference)ContentReference.Parse("oci://[2001:db8::1]:5000/a")).BaseUri.ToString());
        Assert.Equal("::1", OciReference.HostOnly("[::1]:5000"));
        Assert.Equal("::1", OciReference.HostOnly("[::1]"));
        Assert.Equal("[::1", OciReference.HostOnly("[::1"));
        Assert.Equal("r.example.org", OciReference.HostOnly("r.example.org:5000"));
        Assert.Equal("r.example.org", OciReference.HostOnly("r.example.org"));
    }

    [Fact]
    public void An_ipfs_reference_carries_the_import_settings_its_cid_was_made_with()
    {
        Assert.Null(((IpfsReference)ContentReference.ParseTarget("ipfs")).ImportSettings);
        // CIDv0 is a dag-pb root: kubo's defaults, wrapped (the directory holds image.tar).
        Assert.Equal(UnixFsOptions.KuboDefault with { WrapName = "image.tar" }, ((IpfsReference)ContentReference.Parse("ipfs://" + V0)).ImportSettings);
        // A raw CIDv1 is the file itself; with a path, the CID is the directory's.
        Assert.Equal(UnixFsOptions.KuboCidV1, ((IpfsReference)ContentReference.Parse("ipfs://" + V1Raw)).ImportSettings);
        Assert.Equal(UnixFsOptions.KuboCidV1 with { WrapName = "image.tar" }, ((IpfsReference)ContentReference.Parse("ipfs://" + V1Raw + "/image.tar")).ImportSettings);
        var v1DagPb = Cid.Parse(V0).ToV1();
        Assert.Equal(UnixFsOptions.KuboCidV1 with { WrapName = "image.tar" }, ((IpfsReference)ContentReference.Parse("ipfs://" + v1DagPb)).ImportSettings);
        Assert.Equal("image.tar", ((IpfsReference)ContentReference.Parse("ipfs://" + V1Raw + "/image.tar")).Path);
    }

    [Fact]
    public void Push_targets_name_where_to_push_not_what()
    {
        Assert.Equal(new LocalReference(null, null), ContentReference.ParseTarget("local"));
        Assert.Equal("ipfs://localhost:5001", ContentReference.ParseTarget("ipfs://localhost:5001").ToString());
        Assert.Equal("oci://r.example.org/a:1", ContentReference.ParseTarget("oci://r.example.org/a:1").ToString());
        Assert.Equal("https://r.example.org/images/", ContentReference.ParseTarget("https://r.example.org/images/").ToString());
        Assert.Contains("neither a CID nor host:port of an IPFS RPC API", Refused("ipfs://localhost", push: true), StringComparison.Ordinal);
        Assert.Contains("neither a CID nor host:port", Refused("ipfs://localhost:5001/x", push: true), StringComparison.Ordinal);
        Assert.Contains("is not a push destination: ", Refused("ipfs://localhost", push: true), StringComparison.Ordinal);
        Assert.Contains("'ipfs' alone names no content", Refused("ipfs"), StringComparison.Ordinal);
    }

    [Fact]
    public void Only_references_that_resolve_on_this_host_are_host_local()
    {
        Assert.True(ContentReference.Parse("local").IsHostLocal);
        Assert.True(ContentReference.Parse("file:///tmp/x.tar").IsHostLocal);
        Assert.False(ContentReference.Parse("ipfs://" + V0).IsHostLocal);
        Assert.False(ContentReference.Parse("oci://r.example.org/a:1").IsHostLocal);
        Assert.False(ContentReference.Parse("https://cdn.example.org/x.tar#sha256=" + Hex).IsHostLocal);
    }

    [Fact]
    public void Nothing_and_unknown_schemes_are_refused_with_the_valid_forms()
    {
        Assert.False(ContentReference.TryParse(null, out _, out string error));
        Assert.Equal("it is empty", error);
        Assert.Contains("it is empty", Refused("   "), StringComparison.Ordinal);
        Assert.Contains("the scheme 's3://' is not supported", Refused("S3://bucket/x"), StringComparison.Ordinal);
        Assert.Contains("Valid forms: " + ContentReference.ValidForms + ".", Refused("S3://bucket/x"), StringComparison.Ordinal);
        Assert.Contains("Valid destinations: " + ContentReference.ValidTargets + ".", Refused("s3://bucket/x", push: true), StringComparison.Ordinal);
        // A stranger's reference is quoted cut at 120 characters and escaped.
        var message = Refused("s3://" + new string('x', 200) + "\u001b");
        Assert.Contains(new string('x', 115) + "…'", message, StringComparison.Ordinal);
        Assert.DoesNotContain('\u001b', message);
    }
}
