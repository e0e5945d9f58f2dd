using System.Text;
using System.Text.Json.Nodes;

namespace InfraMind.Signing.Tests;

/// <summary>
/// What a publisher can put in a signed statement that the registry must refuse: a hostile publisher writes the
/// statement by hand, not through `infra publish`. Each case changes one member of a valid statement, signs it, and must
/// get IM5017 naming that member's JSON Pointer (scripts/mutation.sh found these rules unproven by the Signing tests).
/// </summary>
public sealed class StatementBoundaryTests
{
    private static readonly string Hex64 = new('a', 64);

    public static TheoryData<string, string, string> Refused => new()
    {
        // The image digest (the subject) and the manifest digest: exactly sha256 and 64 lowercase hex digits.
        { "/subject/0/digest/sha256", "/subject/0/digest/sha256", Json(new string('a', 63)) },
        { "/subject/0/digest/sha256", "/subject/0/digest/sha256", Json(new string('a', 65)) },
        { "/subject/0/digest/sha256", "/subject/0/digest/sha256", Json(new string('A', 64)) },
        { "/subject/0/digest/sha256", "/subject/0/digest/sha256", Json(new string('g', 64)) },
        { "/subject/0/digest/sha256", "/subject/0/digest/sha256", Json(new string('a', 32) + new string('/', 32)) },
        { "/predicate/manifestDigest", "/predicate/manifestDigest", Json("sha512:" + Hex64) },
        { "/predicate/manifestDigest", "/predicate/manifestDigest", Json(Hex64) },
        { "/predicate/manifestDigest", "/predicate/manifestDigest", Json("sha256:" + new string('a', 63)) },
        { "/predicate/manifestDigest", "/predicate/manifestDigest", Json("sha256:" + new string('F', 64)) },
        // The model name: names reach URLs, file names and log lines.
        { "/predicate/name", "/predicate/name", Json("a/b") },
        { "/predicate/name", "/predicate/name", Json("../escape") },
        { "/predicate/name", "/predicate/name", Json("-flag") },
        { "/predicate/name", "/predicate/name", Json("with space") },
        { "/predicate/name", "/predicate/name", Json(new string('a', 129)) },
        { "/predicate/name", "/predicate/name", "\"\"" },
        { "/predicate/name", "/predicate/name", "5" },
        { "/subject/0/name", "/subject/0/name", Json("another-model") },
        { "/predicate/endpointId", "/predicate/endpointId", Json("ep_0000000000000000") },
        // References: an absolute URI with a lowercase scheme; ipfs:// and kind ipfs go together, with their importer settings.
        { "/predicate/contentReferences/0/uri", "/predicate/contentReferences/0/uri", Json("bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi") },
        { "/predicate/contentReferences/0/uri", "/predicate/contentReferences/0/uri", Json(":bafy") },
        { "/predicate/contentReferences/0/uri", "/predicate/contentReferences/0/uri", Json("IPFS://bafy") },
        { "/predicate/contentReferences/0/uri", "/predicate/contentReferences/0/uri", Json("ip fs://bafy") },
        { "/predicate/contentReferences/0/uri", "/predicate/contentReferences/0/uri", Json("1pfs://bafy") },
        { "/predicate/contentReferences/0/kind", "/predicate/contentReferences/0/kind", Json("oci") },
        { "/predicate/contentReferences/0/kind", "/predicate/contentReferences/0/uri", Json("oci://127.0.0.1:5000/m@sha256:" + Hex64) },
        { "/predicate/contentReferences/0/cidVersion", "/predicate/contentReferences/0/cidVersion", "2" },
        { "/predicate/contentReferences/0/cidVersion", "/predicate/contentReferences/0/cidVersion", "-1" },
        { "/predicate/contentReferences/0/cidVersion", "/predicate/contentReferences/0/cidVersion", "\"1\"" },
        { "/predicate/contentReferences/0/cidVersion", "/predicate/contentReferences/0/cidVersion", "1.5" },
        { "/predicate/contentReferences/0/rawLeaves", "/predicate/contentReferences/0/rawLeaves", "\"true\"" },
        { "/predicate/contentReferences", "/predicate/contentReferences", "{}" },
        // Who signed, and when.
        { "/predicate/publisher/fingerprint", "/predicate/publisher/fingerprint", Json("sha256:" + Hex64) },
        { "/predicate/publisher/publicKey", "/predicate/publisher/publicKey", Json("bm90IGEga2V5") },
        { "/predicate/publishedAt", "/predicate/publishedAt", Json("2026-11-27T10:00:00+01:00") },
        { "/predicate/publishedAt", "/predicate/publishedAt", Json("2026-11-27 10:00:00Z") },
        { "/predicate/publishedAt", "/predicate/publishedAt", Json("2026-11-27T10:00:00.5Z") },
        // The manifest's own bytes must be the ones its digest names.
        { "/predicate/manifestSource", "/predicate/manifestSource", Json(Convert.ToBase64String("name: another\n"u8)) },
        { "/predicate/manifestSource", "/predicate/manifestSource", Json("not base64!") },
        { "/predicate/manifest", "/predicate/manifest", "[]" },
        { "/predicateType", "/predicateType", Json("urn:example:other:v1") },
    };

    [Theory]
    [MemberData(nameof(Refused))]
    public void A_statement_breaking_a_rule_is_refused_naming_the_member(string pointer, string member, string value)
    {
        using var key = SigningKey.CreateEphemeral();
        var statement = Valid(key);
        Set(statement, member, JsonNode.Parse(value));
        var result = Dsse.VerifyPublish(Dsse.Sign(CanonicalJson.Serialize(statement), DsseEnvelope.InTotoPayloadType, key), key.PublicKey);

        Assert.False(result.IsValid, $"{member} = {value} was accepted");
        Assert.Equal(SigningErrorCodes.StatementSchema, result.ErrorCode);
        Assert.Contains($"statement {pointer}:", result.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void The_rules_take_what_they_allow_at_their_edges()
    {
        using var key = SigningKey.CreateEphemeral();
        // Names: 1 and 128 characters, and every allowed character.
        foreach (var name in new[] { "a", "9", new string('a', 128), "Model.v2_final-1" })
        {
            Assert.True(PublishStatement.IsValidModelName(name), name);
            var statement = PublishStatement.Create(name, "1.0.0", "sha256:" + Hex64, "x"u8, [], key.PublicKey, TimeProvider.System);
            Assert.True(Dsse.VerifyPublish(Dsse.SignPublish(statement, key)).IsValid, name);
        }

        foreach (var name in new[] { "", ".hidden", "_x", "a+b", "a@b", "ä" })
        {
            Assert.False(PublishStatement.IsValidModelName(name), name);
        }

        // A CID of either version; scheme characters beyond letters.
        foreach (var version in new[] { 0, 1 })
        {
            var statement = Valid(key);
            statement["predicate"]!["contentReferences"]![0]!["cidVersion"] = version;
            var result = Dsse.VerifyPublish(Dsse.Sign(CanonicalJson.Serialize(statement), DsseEnvelope.InTotoPayloadType, key));
            Assert.True(result.IsValid, result.Reason);
            Assert.Equal(version, result.Statement!.ContentReferences[0].CidVersion);
        }

        // What the statement carries beyond the digests comes back out of the envelope as it went in.
        var full = Valid(key);
        full["predicate"]!["contentReferences"]![0]!["rawLeaves"] = false;
        var carried = Dsse.VerifyPublish(Dsse.Sign(CanonicalJson.Serialize(full), DsseEnvelope.InTotoPayloadType, key));
        Assert.True(carried.IsValid, carried.Reason);
        Assert.False(carried.Statement!.ContentReferences[0].RawLeaves);
        Assert.Equal("summarizer-v1", (string?)carried.Statement.Manifest!["name"]);
        Assert.Equal("name: summarizer-v1\n"u8.ToArray(), carried.Statement.ManifestSource);

        var plus = PublishStatement.Create("m", "1.0.0", "sha256:" + Hex64, "x"u8, [new PublishedReference("git+https://127.0.0.1/m.git", "https")], key.PublicKey, TimeProvider.System);
        Assert.Equal("git+https://127.0.0.1/m.git", plus.ContentReferences[0].Uri);
        // Every lowercase hex digit in a digest.
        var digits = PublishStatement.Create("m", "1.0.0", "sha256:" + string.Concat(Enumerable.Repeat("0123456789abcdef", 4)), "x"u8, [], key.PublicKey, TimeProvider.System);
        Assert.True(Dsse.VerifyPublish(Dsse.SignPublish(digits, key)).IsValid);
    }

    [Fact]
    public void A_verified_statement_carries_the_signature_that_verified_it()
    {
        using var key = SigningKey.CreateEphemeral();
        using var other = SigningKey.CreateEphemeral();
        var envelope = Dsse.SignPublish(DsseTests.Statement(key.PublicKey), key);
        // An unrelated signature first (no key id: a candidate that fails), the publisher's second.
        var stray = Dsse.Sign(envelope.Payload.Span, DsseEnvelope.InTotoPayloadType, other).Signatures[0] with { KeyId = "" };
        var result = Dsse.VerifyPublish(envelope with { Signatures = [stray, envelope.Signatures[0]] });

        Assert.True(result.IsValid, result.Reason);
        Assert.Equal(envelope.Signatures[0], result.Signature);
        Assert.Equal($"signature verified with {key.PublicKey.Fingerprint}", result.Reason);
    }

    [Fact]
    public void A_payload_that_is_not_json_says_so()
    {
        using var key = SigningKey.CreateEphemeral();
        foreach (var expected in new PublicKey?[] { null, key.PublicKey })
        {
            var result = Dsse.VerifyPublish(Dsse.Sign("{\"_type\": "u8, DsseEnvelope.InTotoPayloadType, key), expected);
            Assert.Equal(SigningErrorCodes.StatementSchema, result.ErrorCode);
            Assert.StartsWith("statement (root): payload is not JSON: ", result.Reason, StringComparison.Ordinal);
        }
    }

    private static JsonObject Valid(SigningKey key)
    {
        var statement = PublishStatement.Create("summarizer-v1", "0.4.2", "sha256:" + Hex64, Encoding.UTF8.GetBytes("name: summarizer-v1\n"),
            [new PublishedReference("ipfs://bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi", "ipfs", 1, true, "size-262144", true)],
            key.PublicKey, TimeProvider.System, manifest: new JsonObject { ["name"] = "summarizer-v1" });
        return statement.ToStatement().ToJson();
    }

    private static string Json(string text) => JsonValue.Create(text).ToJsonString();

    /// <summary>Sets the member at a JSON Pointer of the form /a/0/b (no escapes needed here).</summary>
    private static void Set(JsonObject root, string pointer, JsonNode? value)
    {
        var parts = pointer.Trim('/').Split('/');
        JsonNode node = root;
        foreach (var part in parts[..^1])
        {
            node = int.TryParse(part, out var i) ? node[i]! : node[part]!;
        }

        node.AsObject()[parts[^1]] = value;
    }
}

/// <summary>What DSSE lets an envelope's JSON vary in (base64 alphabets and padding, the key id) and what it does not.</summary>
public sealed class EnvelopeEncodingTests
{
    [Fact]
    public void Url_safe_and_unpadded_base64_and_a_missing_key_id_still_verify()
    {
        using var key = SigningKey.CreateEphemeral();
        // Statements until one whose payload and signature both need padding and use the URL-safe alphabet's letters.
        for (var i = 0; i < 64; i++)
        {
            var envelope = Dsse.SignPublish(DsseTests.Statement(key.PublicKey, version: $"1.0.{i}"), key);
            var payload = Convert.ToBase64String(envelope.Payload.Span);
            var sig = Convert.ToBase64String(envelope.Signatures[0].Sig.Span);
            if (!payload.EndsWith('=') || !sig.EndsWith('=') || !(payload + sig).Any(c => c is '+' or '/'))
            {
                continue;
            }

            static string UrlSafe(string b64) => b64.TrimEnd('=').Replace('+', '-').Replace('/', '_');
            var json = new JsonObject
            {
                ["payloadType"] = DsseEnvelope.InTotoPayloadType,
                ["payload"] = UrlSafe(payload),
                ["signatures"] = new JsonArray(new JsonObject { ["sig"] = UrlSafe(sig) }),
            };
            var result = Dsse.VerifyPublish(json.ToJsonString());
            Assert.True(result.IsValid, result.Reason);
            Assert.Equal($"1.0.{i}", result.Statement!.Version);
            Assert.Equal("", result.Signature!.KeyId);
            return;
        }

        Assert.Fail("no statement of 64 gave base64 with padding and '+' or '/'");
    }

    [Fact]
    public void Empty_required_fields_are_malformed_and_an_empty_key_id_is_not()
    {
        using var key = SigningKey.CreateEphemeral();
        var envelope = Dsse.SignPublish(DsseTests.Statement(key.PublicKey), key).ToJsonObject();
        foreach (var (edit, field) in new (Action<JsonObject>, string)[]
        {
            (o => o["payloadType"] = "", "/payloadType"),
            (o => o["payload"] = "", "/payload"),
            (o => o["signatures"]![0]!["sig"] = "", "/signatures/0/sig"),
            (o => o["signatures"]![0]!["keyid"] = 7, "/signatures/0/keyid"),
        })
        {
            var copy = envelope.DeepClone().AsObject();
            edit(copy);
            var result = Dsse.VerifyPublish(copy.ToJsonString());
            Assert.Equal(SigningErrorCodes.EnvelopeMalformed, result.ErrorCode);
            Assert.Contains($"envelope {field} is required", result.Reason, StringComparison.Ordinal);
        }

        var emptyKeyId = envelope.DeepClone().AsObject();
        emptyKeyId["signatures"]![0]!["keyid"] = "";
        Assert.True(Dsse.VerifyPublish(emptyKeyId.ToJsonString()).IsValid);
    }
}
