using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using InfraMind.Registry.Checkpoints;
using InfraMind.Registry.Merkle;
using InfraMind.Signing;

namespace InfraMind.Registry.Models;

/// <summary>
/// Everything needed to verify one publish offline: the envelope, where it sits in the log, an inclusion proof and
/// the signed checkpoint the proof leads to. This JSON is what <c>GET /v1/models/{name}/{version}</c> serves and
/// what <c>infra verify</c> reads.
/// </summary>
public sealed record EntryBundle(long Index, DateTimeOffset IntegratedAt, DsseEnvelope Envelope, InclusionProof InclusionProof, string Checkpoint)
{
    public JsonObject ToJsonObject()
    {
        var hashes = new JsonArray();
        foreach (var h in InclusionProof.Hashes)
        {
            hashes.Add(Convert.ToBase64String(h.Span));
        }

        return new JsonObject
        {
            ["index"] = Index,
            ["integratedAt"] = IntegratedAt.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture),
            ["envelope"] = Envelope.ToJsonObject(),
            ["inclusionProof"] = new JsonObject
            {
                ["leafIndex"] = InclusionProof.LeafIndex,
                ["treeSize"] = InclusionProof.TreeSize,
                ["hashes"] = hashes,
            },
            ["checkpoint"] = Checkpoint,
        };
    }

    public string ToJson() => ToJsonObject().ToJsonString(new JsonSerializerOptions { WriteIndented = true });

    /// <summary>
    /// Parses a bundle; a malformed one is <see cref="RegistryErrorCodes.InvalidRequest"/> naming the place (line and
    /// byte of a JSON syntax error, else the field's JSON Pointer), never in .NET's words: the text may be a user's file.
    /// </summary>
    public static EntryBundle Parse(string json)
    {
        JsonNode? root;
        try
        {
            root = StrictJson.Parse(json);
        }
        catch (JsonException ex)
        {
            throw Bad(ex.LineNumber is { } line ? $"is not JSON (line {line + 1}, byte {ex.BytePositionInLine + 1})." : "is not JSON.");
        }

        try
        {
            var o = root as JsonObject ?? throw Bad("(root)", "must be an object");
            var proof = o["inclusionProof"] as JsonObject ?? throw Bad("/inclusionProof", "is required");
            var hashes = (proof["hashes"] as JsonArray ?? throw Bad("/inclusionProof/hashes", "is required"))
                .Select((h, i) => (ReadOnlyMemory<byte>)Base64(h, $"/inclusionProof/hashes/{i}"))
                .ToList();
            return new EntryBundle(
                Whole(o["index"], "/index"),
                DateTimeOffset.TryParse(Text(o["integratedAt"], "/integratedAt"), CultureInfo.InvariantCulture, DateTimeStyles.None, out var at)
                    ? at : throw Bad("/integratedAt", "must be a date and time such as 2026-01-01T00:00:00.000Z"),
                DsseEnvelope.FromJson(o["envelope"]),
                new InclusionProof(Whole(proof["leafIndex"], "/inclusionProof/leafIndex"), Whole(proof["treeSize"], "/inclusionProof/treeSize"), hashes),
                Text(o["checkpoint"], "/checkpoint"));
        }
        catch (SigningException ex)
        {
            throw new RegistryException(ex.Code, RegistryErrorKind.BadRequest, "entry bundle /envelope: " + ex.Message, ex);
        }
    }

    private static long Whole(JsonNode? node, string pointer) =>
        node is JsonValue v && v.TryGetValue<long>(out var n) ? n : throw Bad(pointer, node is null ? "is required" : "must be a whole number");

    private static string Text(JsonNode? node, string pointer) =>
        node is JsonValue v && v.TryGetValue<string>(out var s) ? s : throw Bad(pointer, node is null ? "is required" : "must be a string");

    private static byte[] Base64(JsonNode? node, string pointer)
    {
        var text = Text(node, pointer);
        var bytes = new byte[text.Length];
        return Convert.TryFromBase64String(text, bytes, out var written) ? bytes[..written] : throw Bad(pointer, "must be base64");
    }

    private static RegistryException Bad(string what) =>
        new(RegistryErrorCodes.InvalidRequest, RegistryErrorKind.BadRequest, $"entry bundle {what}");

    private static RegistryException Bad(string pointer, string what) => Bad($"{pointer} {what}.");
}

/// <summary>One offline check: <see cref="Name"/> is one of signature, statement, checkpoint, inclusion.</summary>
public sealed record VerificationCheck(string Name, bool Passed, ErrorCode? Code, string Reason);

public sealed record VerificationReport(IReadOnlyList<VerificationCheck> Checks, PublishStatement? Statement)
{
    public bool AllPassed => Checks.All(c => c.Passed);
}

/// <summary>What the verifier expects, when it knows: e.g. the sha256 of the local model.yaml.</summary>
public sealed record ExpectedPublish(string? ModelName = null, string? Version = null, string? ManifestDigest = null, string? ImageDigest = null, PublicKey? Publisher = null);

/// <summary>Verifies an <see cref="EntryBundle"/> with nothing but the registry's public key: no network, no database.</summary>
public static class EntryVerifier
{
    public const string SignatureCheck = "signature";
    public const string StatementCheck = "statement";
    public const string CheckpointCheck = "checkpoint";
    public const string InclusionCheck = "inclusion";

    public static VerificationReport Verify(EntryBundle bundle, PublicKey registryKey, ExpectedPublish? expected = null)
    {
        ArgumentNullException.ThrowIfNull(bundle);
        ArgumentNullException.ThrowIfNull(registryKey);
        var checks = new List<VerificationCheck>();

        var signature = Dsse.VerifyPublish(bundle.Envelope, expected?.Publisher);
        checks.Add(new VerificationCheck(SignatureCheck, signature.IsValid, signature.ErrorCode, signature.Reason));
        checks.Add(CheckStatement(signature, expected));

        var checkpoint = CheckpointNote.Verify(bundle.Checkpoint, registryKey);
        checks.Add(new VerificationCheck(CheckpointCheck, checkpoint.IsValid, checkpoint.ErrorCode, checkpoint.Reason));
        checks.Add(CheckInclusion(bundle, checkpoint));
        return new VerificationReport(checks, signature.Statement);
    }

    /// <summary>The statement of a verified signature against what the verifier expects (name, version, digests); also for bundles read off an image.</summary>
    public static VerificationCheck CheckStatement(DsseVerification signature, ExpectedPublish? expected)
    {
        if (!signature.IsValid || signature.Statement is not { } s)
        {
            return new VerificationCheck(StatementCheck, false, signature.ErrorCode, "statement not trusted: its signature did not verify.");
        }

        var mismatches = new List<string>();
        Compare("model name", expected?.ModelName, s.ModelName, mismatches);
        Compare("version", expected?.Version, s.Version, mismatches);
        Compare("manifest digest (sha256 of model.yaml)", expected?.ManifestDigest, s.ManifestDigest, mismatches);
        Compare("image manifest digest", expected?.ImageDigest, s.ImageDigest, mismatches);
        if (s.EndpointId != PublishStatement.DeriveEndpointId(s.ModelName))
        {
            mismatches.Add($"endpoint id {s.EndpointId} is not derived from '{s.ModelName}'");
        }

        return mismatches.Count == 0
            ? new VerificationCheck(StatementCheck, true, null, $"{s.ModelName}@{s.Version}: manifest {s.ManifestDigest}, image {s.ImageDigest}, endpoint {s.EndpointId}")
            : new VerificationCheck(StatementCheck, false, RegistryErrorCodes.StatementDigestMismatch, string.Join("; ", mismatches) + ".");
    }

    private static void Compare(string what, string? expected, string actual, List<string> mismatches)
    {
        if (expected is not null && expected != actual)
        {
            mismatches.Add($"{what} is {actual}, expected {expected}");
        }
    }

    private static VerificationCheck CheckInclusion(EntryBundle bundle, CheckpointVerification checkpoint)
    {
        if (!checkpoint.IsValid || checkpoint.Checkpoint is not { } cp)
        {
            return new VerificationCheck(InclusionCheck, false, checkpoint.ErrorCode, "no verified checkpoint to prove inclusion against.");
        }

        var proof = bundle.InclusionProof;
        if (proof.TreeSize != cp.Size)
        {
            return new VerificationCheck(InclusionCheck, false, RegistryErrorCodes.CheckpointMismatch, $"inclusion proof is for tree size {proof.TreeSize} but the checkpoint is at size {cp.Size}.");
        }

        if (proof.LeafIndex != bundle.Index)
        {
            return new VerificationCheck(InclusionCheck, false, RegistryErrorCodes.InclusionProofInvalid, $"inclusion proof is for entry {proof.LeafIndex}, not entry {bundle.Index}.");
        }

        var leafHash = MerkleHash.Leaf(bundle.Envelope.ToCanonicalJson());
        var failure = MerkleProofs.VerifyInclusion(proof.LeafIndex, proof.TreeSize, leafHash, proof.Hashes, cp.RootHash.Span);
        return failure is null
            ? new VerificationCheck(InclusionCheck, true, null, $"entry {bundle.Index} is in the log at size {cp.Size} (root {Convert.ToBase64String(cp.RootHash.Span)})")
            : new VerificationCheck(InclusionCheck, false, RegistryErrorCodes.InclusionProofInvalid, failure + " (the envelope or the proof differs from what was logged).");
    }
}
