using System.Text;
using System.Text.Json.Nodes;

namespace InfraMind.Signing.Tests;

/// <summary>The publish envelope as a Sigstore bundle v0.3 (keyed) and back; anything else is IM5020 naming the field.</summary>
public sealed class SigstoreBundleTests
{
    private static (byte[] Bundle, DsseEnvelope Envelope, PublicKey Key) Signed()
    {
        using var key = SigningKey.CreateEphemeral();
        var envelope = Dsse.SignPublish(DsseTests.Statement(key.PublicKey), key);
        return (SigstoreBundle.Serialize(envelope, key.PublicKey), envelope, key.PublicKey);
    }

    [Fact]
    public void The_bundle_holds_the_envelope_unchanged_with_the_publisher_fingerprint_as_hint()
    {
        var (bundle, envelope, key) = Signed();
        var json = JsonNode.Parse(bundle)!;
        Assert.Equal("application/vnd.dev.sigstore.bundle.v0.3+json", json["mediaType"]!.GetValue<string>());
        Assert.Equal(key.Fingerprint, json["verificationMaterial"]!["publicKey"]!["hint"]!.GetValue<string>());
        Assert.Empty(json["verificationMaterial"]!["tlogEntries"]!.AsArray());
        Assert.Null(json["verificationMaterial"]!["certificate"]);

        var (parsed, hint) = SigstoreBundle.Parse(bundle);
        Assert.Equal(key.Fingerprint, hint);
        Assert.Equal(envelope.ToJson(), parsed.ToJson());
        Assert.True(Dsse.VerifyPublish(parsed, key).IsValid);
        Assert.Equal(bundle, SigstoreBundle.Serialize(parsed, key)); // canonical: the same envelope, the same bytes
    }

    [Theory]
    [InlineData("not json", "(root)")]
    [InlineData("[]", "(root)")]
    [InlineData("{\"mediaType\":\"application/vnd.dev.sigstore.bundle.v0.2+json\"}", "/mediaType")]
    [InlineData("{\"mediaType\":\"application/vnd.dev.sigstore.bundle.v0.3+json\",\"mediaType\":\"x\"}", "(root)")]
    [InlineData("{\"mediaType\":\"application/vnd.dev.sigstore.bundle.v0.3+json\",\"verificationMaterial\":{\"certificate\":{\"rawBytes\":\"AA==\"}}}", "/verificationMaterial")]
    [InlineData("{\"mediaType\":\"application/vnd.dev.sigstore.bundle.v0.3+json\",\"verificationMaterial\":{\"publicKey\":{}}}", "/verificationMaterial/publicKey/hint")]
    [InlineData("{\"mediaType\":\"application/vnd.dev.sigstore.bundle.v0.3+json\",\"verificationMaterial\":{\"publicKey\":{\"hint\":\"k\"}},\"messageSignature\":{}}", "/messageSignature")]
    [InlineData("{\"mediaType\":\"application/vnd.dev.sigstore.bundle.v0.3+json\",\"verificationMaterial\":{\"publicKey\":{\"hint\":\"k\"}}}", "/dsseEnvelope")]
    [InlineData("{\"mediaType\":\"application/vnd.dev.sigstore.bundle.v0.3+json\",\"verificationMaterial\":{\"publicKey\":{\"hint\":\"k\"}},\"dsseEnvelope\":{\"payloadType\":\"t\",\"payload\":\"AA==\",\"signatures\":[]}}", "/dsseEnvelope/signatures")]
    public void Anything_but_a_keyed_v03_dsse_bundle_is_IM5020_naming_the_field(string json, string pointer)
    {
        var e = Assert.Throws<SigningException>(() => SigstoreBundle.Parse(Encoding.UTF8.GetBytes(json)));
        Assert.Equal(SigningErrorCodes.BundleMalformed, e.Code);
        Assert.Contains($"Sigstore bundle {pointer}:", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void An_envelope_of_two_signatures_is_not_bundled()
    {
        var (_, envelope, key) = Signed();
        var doubled = envelope with { Signatures = [envelope.Signatures[0], envelope.Signatures[0]] };
        Assert.Equal(SigningErrorCodes.BundleMalformed, Assert.Throws<SigningException>(() => SigstoreBundle.Serialize(doubled, key)).Code);
    }
}
