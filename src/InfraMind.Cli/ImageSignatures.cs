using System.Text.Json.Nodes;
using InfraMind.Oci;
using InfraMind.Registry.Models;
using InfraMind.Signing;
using InfraMind.Storage;
using InfraMind.Storage.Registry;

namespace InfraMind.Cli;

/// <summary>
/// The publish signature next to the image, where OCI tools look: the DSSE envelope of the publish as a Sigstore bundle
/// v0.3 (keyed: <c>publicKey.hint</c>, no certificate, no Rekor entry), attached to the image manifest as an OCI 1.1
/// referrer (<see cref="OciReferrers"/>). The bundle's in-toto subject is the image manifest digest, the referrer's
/// subject is that same manifest, so the signature binds to the image it sits on; verifiers check both.
/// </summary>
internal static class ImageSignatures
{
    /// <summary>cosign's annotations on bundle referrers, so its tools (and people browsing the registry) see what it holds.</summary>
    private static readonly Dictionary<string, string> Annotations = new(StringComparer.Ordinal)
    {
        ["dev.sigstore.bundle.content"] = "dsse-envelope",
        ["dev.sigstore.bundle.predicateType"] = PublishStatement.PredicateTypeV1,
    };

    public const string ReferrerCheck = "referrer";

    /// <summary>Attaches <paramref name="envelope"/> to each image (one attach per repository and manifest).</summary>
    public static async Task<IReadOnlyList<(OciReference Image, AttachResult Result)>> AttachAsync(
        ContentResolver resolver, IEnumerable<(OciReference Image, Descriptor Manifest)> images, DsseEnvelope envelope, PublicKey publisher, CancellationToken cancellationToken)
    {
        var bundle = SigstoreBundle.Serialize(envelope, publisher);
        var referrers = new OciReferrers(resolver.Options);
        var done = new List<(OciReference, AttachResult)>();
        foreach (var (image, manifest) in images.DistinctBy(i => (i.Image.Registry, i.Image.Repository, i.Manifest.Digest)))
        {
            try
            {
                done.Add((image, await referrers.AttachAsync(image, manifest, SigstoreBundle.MediaType, bundle, Annotations, cancellationToken)));
            }
            catch (StorageException e)
            {
                throw new StorageException(e.Code,
                    $"the publish is recorded, but its signature could not be attached to {image.Registry}/{image.Repository}@{manifest.Digest}: {e.Message}",
                    e, "fix that, then run the same `infra publish` again: it is idempotent and attaches the signature");
            }
        }

        return done;
    }

    /// <summary>
    /// `infra verify NAME --image oci://…@sha256:…`: every Sigstore bundle attached to the image, each checked with the
    /// publisher's key and against NAME, VERSION and the image digest; passes when one of them passes every check.
    /// </summary>
    public static async Task<(JsonObject Fields, List<VerificationCheck> Checks, PublishStatement? Statement, string Header)> VerifyAsync(
        ContentResolver resolver, OciReference image, PublicKey publisher, string name, string? version, CancellationToken cancellationToken)
    {
        var subject = image.Digest ?? throw new InfraMindException(StorageErrorCodes.UnsupportedReference,
            $"{image} names the image by tag; a signature is checked against the image digest, which a tag does not pin",
            "name the image by digest: oci://HOST/REPO@sha256:… (`infra push` prints it)");
        // Read one at a time, stopping at the first that passes: whoever can push to the repository may attach many.
        using var found = await new OciReferrers(resolver.Options).ListAsync(image, subject, SigstoreBundle.MediaType, cancellationToken);
        if (found.Count == 0)
        {
            throw new StorageException(StorageErrorCodes.NoReferrer,
                $"{image.Registry}/{image.Repository}@{subject} has no Sigstore bundle attached (no {SigstoreBundle.MediaType} referrer in the referrers API or the {OciReferrers.FallbackTag(subject)} tag index)");
        }

        var expected = new ExpectedPublish(ModelName: name, Version: version, ImageDigest: subject.Value, Publisher: publisher);
        List<VerificationCheck>? best = null;
        PublishStatement? statement = null;
        Digest? referrer = null;
        await foreach (var artifact in found.ReadAsync(cancellationToken))
        {
            var checks = new List<VerificationCheck> { new(ReferrerCheck, true, null, $"Sigstore bundle in referrer {artifact.Referrer} ({found.Count} attached)") };
            DsseVerification signature;
            try
            {
                signature = Dsse.VerifyPublish(SigstoreBundle.Parse(artifact.Content).Envelope, publisher);
            }
            catch (SigningException e)
            {
                signature = new DsseVerification(false, e.Code, e.Message, null, null);
            }

            checks.Add(new VerificationCheck(EntryVerifier.SignatureCheck, signature.IsValid, signature.ErrorCode, signature.Reason));
            checks.Add(EntryVerifier.CheckStatement(signature, expected));
            if (best is null || checks.All(c => c.Passed))
            {
                (best, statement, referrer) = (checks, signature.Statement, artifact.Referrer);
            }

            if (checks.All(c => c.Passed))
            {
                break;
            }
        }

        var fields = new JsonObject
        {
            ["model"] = statement?.ModelName ?? name,
            ["version"] = statement?.Version ?? version,
            ["image"] = $"oci://{image.Registry}/{image.Repository}@{subject}",
            ["imageDigest"] = subject.Value,
            ["referrer"] = referrer?.Value,
            ["referrers"] = found.Count,
            ["manifestDigest"] = statement?.ManifestDigest,
            ["publisher"] = publisher.Fingerprint,
        };
        return (fields, best!, statement, $"{name} {version ?? ""} — Sigstore bundle attached to {image.Registry}/{image.Repository}@{subject}, publisher key {publisher.Fingerprint}");
    }
}
