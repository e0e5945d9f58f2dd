using System.Text.Json;
using System.Text.Json.Nodes;

namespace InfraMind.Signing;

/// <summary>
/// A publish envelope as a Sigstore bundle v0.3 (https://github.com/sigstore/protobuf-specs, protobuf JSON form):
/// the DSSE envelope unchanged, and <c>verificationMaterial.publicKey.hint</c> = the publisher's fingerprint, with no
/// certificate, transparency log entry or timestamp. That is Sigstore's keyed verification, the form `cosign
/// verify-blob-attestation --key` and @sigstore/verify check with the deployer's public key; the log that makes the
/// signature's time and order public is InfraMind's own registry, not Rekor.
/// Written by hand: the bundle is five fields, and the .NET Sigstore libraries on NuGet bring a certificate and
/// TUF stack that keyed verification does not use.
/// </summary>
public static class SigstoreBundle
{
    public const string MediaType = "application/vnd.dev.sigstore.bundle.v0.3+json";

    /// <summary>The bundle's bytes: RFC 8785 canonical JSON, so the same envelope always gives the same blob digest.</summary>
    public static byte[] Serialize(DsseEnvelope envelope, PublicKey publisher)
    {
        ArgumentNullException.ThrowIfNull(envelope);
        ArgumentNullException.ThrowIfNull(publisher);
        if (envelope.Signatures.Count != 1)
        {
            // A v0.3 bundle carries exactly one DSSE signature; verifiers check signatures[0] only.
            throw new SigningException(SigningErrorCodes.BundleMalformed, $"a Sigstore bundle holds exactly one DSSE signature; this envelope has {envelope.Signatures.Count}.");
        }

        var bundle = new JsonObject
        {
            ["mediaType"] = MediaType,
            ["verificationMaterial"] = new JsonObject
            {
                ["publicKey"] = new JsonObject { ["hint"] = publisher.Fingerprint },
                ["tlogEntries"] = new JsonArray(),
            },
            ["dsseEnvelope"] = envelope.ToJsonObject(),
        };
        return CanonicalJson.Serialize(bundle);
    }

    /// <summary>
    /// Reads the envelope back out of a bundle; the signature is not checked here (<see cref="Dsse.VerifyPublish(DsseEnvelope, PublicKey?)"/> does).
    /// Anything but a v0.3 bundle of one DSSE envelope with a public-key hint is IM5020 naming the field.
    /// </summary>
    public static (DsseEnvelope Envelope, string Hint) Parse(ReadOnlySpan<byte> utf8Json)
    {
        JsonNode? root;
        try
        {
            root = StrictJson.Parse(utf8Json);
        }
        catch (JsonException ex)
        {
            throw Malformed("(root)", "is not JSON: " + ex.Message);
        }

        if (root is not JsonObject bundle)
        {
            throw Malformed("(root)", "must be a JSON object");
        }

        if (bundle["mediaType"]?.GetValueKind() != JsonValueKind.String || bundle["mediaType"]!.GetValue<string>() != MediaType)
        {
            throw Malformed("/mediaType", $"must be '{MediaType}'");
        }

        if (bundle["verificationMaterial"] is not JsonObject material)
        {
            throw Malformed("/verificationMaterial", "must be an object");
        }

        if (material["certificate"] is not null || material["x509CertificateChain"] is not null)
        {
            throw Malformed("/verificationMaterial", "holds a certificate; InfraMind's bundles are keyed (publicKey.hint) and verified with the publisher's key");
        }

        if (material["publicKey"] is not JsonObject publicKey || publicKey["hint"]?.GetValueKind() != JsonValueKind.String)
        {
            throw Malformed("/verificationMaterial/publicKey/hint", "is required (a string)");
        }

        if (bundle["messageSignature"] is not null)
        {
            throw Malformed("/messageSignature", "is not what a publish bundle holds; it holds a dsseEnvelope");
        }

        DsseEnvelope envelope;
        try
        {
            envelope = DsseEnvelope.FromJson(bundle["dsseEnvelope"]);
        }
        catch (SigningException ex)
        {
            throw Malformed("/dsseEnvelope", ex.Message.TrimEnd('.'));
        }

        if (envelope.Signatures.Count != 1)
        {
            throw Malformed("/dsseEnvelope/signatures", $"must hold exactly one signature (found {envelope.Signatures.Count})");
        }

        return (envelope, publicKey["hint"]!.GetValue<string>());
    }

    private static SigningException Malformed(string pointer, string message) =>
        new(SigningErrorCodes.BundleMalformed, $"Sigstore bundle {pointer}: {message}.");
}
