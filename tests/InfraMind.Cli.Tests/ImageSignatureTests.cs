using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using InfraMind.Oci;
using InfraMind.Signing;
using InfraMind.Storage;
using InfraMind.Storage.Registry;
using InfraMind.Testing;

namespace InfraMind.Cli.Tests;

/// <summary>
/// `infra publish` stores the publish signature next to the image in a real OCI registry (Debian's docker-registry,
/// which has no referrers API, so the sha256-&lt;digest&gt; tag index is used), and a second implementation, npm
/// @sigstore/verify reading the registry over HTTP itself, verifies it with the publisher's public key only; it and
/// `infra verify --image` reject a tampered bundle, another key, and a bundle attached to another image.
/// </summary>
public sealed class ImageSignatureTests : IDisposable
{
    private readonly CliRunner _cli = new();

    public void Dispose() => _cli.Dispose();

    private string Model(string name, string version = "1.0.0") => _cli.SummarizerModel(name, version);

    /// <summary>A small valid image (no engine needed) pushed to <paramref name="repository"/>; its manifest descriptor.</summary>
    private async Task<Descriptor> PushAsync(RegistryPeer registry, string repository, string seed)
    {
        var tar = Path.Combine(_cli.Work, $"{seed}.tar");
        HostileArchives.Image(tar, seed: seed);
        var resolver = new ContentResolver(new LocalContentStore(Path.Combine(_cli.Work, "source-store")));
        var image = await resolver.ResolveAsync(ContentReference.Parse(new Uri(tar).AbsoluteUri), null, CancellationToken.None);
        await resolver.PushAsync(image, ContentReference.ParseTarget($"oci://{registry.HostPort}/{repository}"), null, CancellationToken.None);
        return image.Image.Manifest;
    }

    private async Task<string> PublicKeyPemAsync(string name)
    {
        var keys = await _cli.RunJsonAsync(0, "keys", "list", "--json");
        return keys.EnumerateArray().Single(k => k.GetProperty("name").GetString() == name).GetProperty("publicKey").GetString()!;
    }

    [SkippableFact]
    public async Task A_published_signature_sits_on_the_image_and_sigstore_verify_checks_it_with_the_publisher_key()
    {
        await using var registry = await RegistryPeer.StartAsync();
        Assert.Equal(0, (await _cli.RunAsync("keys", "generate")).Code);
        Assert.Equal(0, (await _cli.RunAsync("keys", "generate", "--name", "other")).Code);
        var publisherPem = await PublicKeyPemAsync("default");
        var otherPem = await PublicKeyPemAsync("other");
        var a = await PushAsync(registry, "sig/model", "sig-a");
        var b = await PushAsync(registry, "sig/model", "sig-b");
        var imageA = $"oci://{registry.HostPort}/sig/model@{a.Digest}";

        var published = await _cli.RunJsonAsync(0, "publish", "--model", Model("signed"), "--image", imageA, "--json");
        Assert.Equal(a.Digest.Value, published.GetProperty("imageDigest").GetString());
        var attached = Assert.Single(published.GetProperty("attached").EnumerateArray().ToList());
        Assert.Equal(OciReferrers.FallbackTag(a.Digest), attached.GetProperty("tag").GetString());
        var referrer = attached.GetProperty("referrer").GetString()!;

        // The second implementation: @sigstore/verify with only the publisher's key, reading the registry itself.
        var (code, result) = await SigstorePeer.VerifyAsync(registry.BaseUri, "sig/model", a.Digest.Value, publisherPem);
        Assert.True(code == 0, result.ToString());
        Assert.Equal(referrer, result.GetProperty("referrer").GetString());
        Assert.Equal($"tag {OciReferrers.FallbackTag(a.Digest)}", result.GetProperty("source").GetString());
        Assert.Equal(PublishStatement.PredicateTypeV1, result.GetProperty("predicateType").GetString());

        var verified = await _cli.RunJsonAsync(0, "verify", "signed@1.0.0", "--image", imageA, "--publisher-key", publisherPem, "--json");
        Assert.True(verified.GetProperty("passed").GetBoolean());
        Assert.Equal(["referrer", "signature", "statement", "manifest"],
            verified.GetProperty("checks").EnumerateArray().Select(c => c.GetProperty("name").GetString()!).ToArray());
        Assert.Equal(referrer, verified.GetProperty("referrer").GetString());

        // Publishing again is idempotent: the same referrer, the tag index still lists exactly one.
        var again = await _cli.RunJsonAsync(0, "publish", "--model", Model("signed"), "--image", imageA, "--json");
        Assert.True(again.GetProperty("alreadyPublished").GetBoolean());
        Assert.Equal(referrer, again.GetProperty("attached")[0].GetProperty("referrer").GetString());
        using (var http = new HttpClient())
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(registry.BaseUri, $"v2/sig/model/manifests/{OciReferrers.FallbackTag(a.Digest)}"));
            request.Headers.Accept.ParseAdd(MediaTypes.OciIndex);
            using var index = JsonDocument.Parse(await (await http.SendAsync(request)).Content.ReadAsStringAsync());
            var entry = Assert.Single(index.RootElement.GetProperty("manifests").EnumerateArray().ToList());
            Assert.Equal(referrer, entry.GetProperty("digest").GetString());
            Assert.Equal(SigstoreBundle.MediaType, entry.GetProperty("artifactType").GetString());
        }

        // Another key: both verifiers reject.
        (code, result) = await SigstorePeer.VerifyAsync(registry.BaseUri, "sig/model", a.Digest.Value, otherPem);
        Assert.True(code == 1, result.ToString());
        Assert.Contains("SIGNATURE_ERROR", result.GetProperty("failures")[0].GetString(), StringComparison.Ordinal);
        var wrongKey = await _cli.RunJsonAsync(1, "verify", "signed", "--image", imageA, "--publisher-key", otherPem, "--json");
        Assert.Contains(wrongKey.GetProperty("checks").EnumerateArray(), c => c.GetProperty("name").GetString() == "signature" && !c.GetProperty("passed").GetBoolean());

        // A's valid bundle attached to image B: the signature holds, but it names A, so both reject it for B.
        var referrers = new OciReferrers(new PeerOptions());
        var repo = (OciReference)ContentReference.Parse(imageA);
        var bundle = Assert.Single(await referrers.FindAsync(repo, a.Digest, SigstoreBundle.MediaType, CancellationToken.None)).Content;
        await referrers.AttachAsync(repo, b, SigstoreBundle.MediaType, bundle, null, CancellationToken.None);
        (code, result) = await SigstorePeer.VerifyAsync(registry.BaseUri, "sig/model", b.Digest.Value, publisherPem);
        Assert.True(code == 1, result.ToString());
        Assert.Contains("does not name the image", result.GetProperty("failures")[0].GetString(), StringComparison.Ordinal);
        var moved = await _cli.RunJsonAsync(1, "verify", "signed", "--image", $"oci://{registry.HostPort}/sig/model@{b.Digest}", "--publisher-key", publisherPem, "--json");
        var statement = moved.GetProperty("checks").EnumerateArray().Single(c => c.GetProperty("name").GetString() == "statement");
        Assert.False(statement.GetProperty("passed").GetBoolean());
        Assert.Contains(a.Digest.Value, statement.GetProperty("reason").GetString(), StringComparison.Ordinal);

        // A tampered bundle (the statement's version changed, the signature kept) on A in another repository: the
        // digests of manifest and blob are right, so only the signature check can catch it, and does.
        var tampered = JsonNode.Parse(bundle)!;
        var payload = Encoding.UTF8.GetString(Convert.FromBase64String(tampered["dsseEnvelope"]!["payload"]!.GetValue<string>()));
        Assert.Contains("\"version\":\"1.0.0\"", payload, StringComparison.Ordinal);
        tampered["dsseEnvelope"]!["payload"] = Convert.ToBase64String(Encoding.UTF8.GetBytes(payload.Replace("\"version\":\"1.0.0\"", "\"version\":\"6.6.6\"", StringComparison.Ordinal)));
        await PushAsync(registry, "sig/tampered", "sig-a");
        var tamperedRepo = (OciReference)ContentReference.Parse($"oci://{registry.HostPort}/sig/tampered@{a.Digest}");
        await referrers.AttachAsync(tamperedRepo, a, SigstoreBundle.MediaType, Encoding.UTF8.GetBytes(tampered.ToJsonString()), null, CancellationToken.None);
        (code, result) = await SigstorePeer.VerifyAsync(registry.BaseUri, "sig/tampered", a.Digest.Value, publisherPem);
        Assert.True(code == 1, result.ToString());
        Assert.Contains("SIGNATURE_ERROR", result.GetProperty("failures")[0].GetString(), StringComparison.Ordinal);
        var forged = await _cli.RunJsonAsync(1, "verify", "signed", "--image", tamperedRepo.ToString(), "--publisher-key", publisherPem, "--json");
        var signature = forged.GetProperty("checks").EnumerateArray().Single(c => c.GetProperty("name").GetString() == "signature");
        Assert.False(signature.GetProperty("passed").GetBoolean());
        Assert.Equal("IM5016", signature.GetProperty("code").GetString());
    }

    [SkippableFact]
    public async Task No_attach_leaves_the_image_alone_and_verify_image_says_nothing_is_attached()
    {
        await using var registry = await RegistryPeer.StartAsync();
        Assert.Equal(0, (await _cli.RunAsync("keys", "generate")).Code);
        var a = await PushAsync(registry, "sig/plain", "sig-plain");
        var image = $"oci://{registry.HostPort}/sig/plain@{a.Digest}";
        var published = await _cli.RunJsonAsync(0, "publish", "--model", Model("unattached"), "--image", image, "--no-attach", "--json");
        Assert.Empty(published.GetProperty("attached").EnumerateArray());

        var (code, _, err) = await _cli.RunAsync("verify", "unattached", "--image", image, "--publisher-key", await PublicKeyPemAsync("default"));
        Assert.Equal(1, code);
        Assert.Contains("IM4242", err, StringComparison.Ordinal);
        (code, _, err) = await _cli.RunAsync("verify", "unattached", "--image", image);
        Assert.Equal(2, code);
        Assert.Contains("--publisher-key", err, StringComparison.Ordinal);
        (code, _, err) = await _cli.RunAsync("verify", "unattached", "--image", $"oci://{registry.HostPort}/sig/plain:latest", "--publisher-key", await PublicKeyPemAsync("default"));
        Assert.Equal(2, code);
        Assert.Contains("IM4202", err, StringComparison.Ordinal);
    }
}
