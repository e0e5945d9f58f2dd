using System.Text;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Time.Testing;

namespace InfraMind.Signing.Tests;

public sealed class DsseTests
{
    private static readonly FakeTimeProvider Time = new(new DateTimeOffset(2026, 11, 27, 10, 0, 0, 123, TimeSpan.Zero));

    internal static PublishStatement Statement(PublicKey publisher, string name = "summarizer-v1", string version = "0.4.2") =>
        PublishStatement.Create(
            name,
            version,
            "sha256:" + new string('a', 64),
            Encoding.UTF8.GetBytes("name: summarizer-v1\nversion: 0.4.2\n"),
            [new PublishedReference("ipfs://bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi", "ipfs", 1, true, "size-262144", true)],
            publisher,
            Time);

    [Fact]
    public void Pae_matches_the_dsse_spec_vector()
    {
        // From the DSSE protocol doc: PAE("http://example.com/HelloWorld", "hello world").
        var pae = Dsse.Pae("http://example.com/HelloWorld", "hello world"u8);
        Assert.Equal("DSSEv1 29 http://example.com/HelloWorld 11 hello world", Encoding.UTF8.GetString(pae));
    }

    /// <summary>
    /// The envelope's canonical JSON is written from its fields; it must be, byte for byte, what the canonical JSON of
    /// its JSON tree was (the registry's log hashes these bytes as its leaves).
    /// </summary>
    [Fact]
    public void Canonical_json_is_the_canonical_json_of_the_envelope_tree()
    {
        using var key = SigningKey.CreateEphemeral();
        DsseEnvelope[] envelopes =
        [
            Dsse.SignPublish(Statement(key.PublicKey), key),
            new("application/vnd.in-toto+json", Array.Empty<byte>(), []),
            new("type \"quoted\" \u20ac\n", new byte[] { 0, 1, 2, 250, 251, 252, 253 }, [new("", new byte[] { 1 }), new("key \\ \ud83d\ude00", new byte[71])]),
        ];
        foreach (var envelope in envelopes)
            Assert.Equal(Encoding.UTF8.GetString(CanonicalJson.Serialize(envelope.ToJsonObject())), Encoding.UTF8.GetString(envelope.ToCanonicalJson()));
    }

    [Fact]
    public void Round_trip_through_json_verifies()
    {
        using var key = SigningKey.CreateEphemeral();
        var statement = Statement(key.PublicKey);
        var envelope = Dsse.SignPublish(statement, key);
        var json = envelope.ToJson();

        var result = Dsse.VerifyPublish(json, key.PublicKey);
        Assert.True(result.IsValid, result.Reason);
        Assert.Equal(statement with { ContentReferences = result.Statement!.ContentReferences }, result.Statement);
        Assert.Equal(statement.ContentReferences, result.Statement.ContentReferences);
        Assert.Equal(new DateTimeOffset(2026, 11, 27, 10, 0, 0, TimeSpan.Zero), result.Statement.PublishedAt);
        Assert.StartsWith("ep_", result.Statement.EndpointId, StringComparison.Ordinal);
        Assert.Equal(19, result.Statement.EndpointId.Length);

        var sig = Assert.Single(envelope.Signatures);
        Assert.Equal(key.PublicKey.Fingerprint, sig.KeyId);
        Assert.Equal(0x30, sig.Sig.Span[0]); // DER SEQUENCE, not raw r||s

        var statementJson = JsonNode.Parse(envelope.Payload.Span)!;
        Assert.Equal("https://in-toto.io/Statement/v1", (string?)statementJson["_type"]);
        Assert.Equal(new string('a', 64), (string?)statementJson["subject"]![0]!["digest"]!["sha256"]);
    }

    [Fact]
    public void Reformatted_envelope_json_still_verifies()
    {
        using var key = SigningKey.CreateEphemeral();
        var envelope = Dsse.SignPublish(Statement(key.PublicKey), key);
        var pretty = envelope.ToJsonObject().ToJsonString(new System.Text.Json.JsonSerializerOptions { WriteIndented = true });
        Assert.True(Dsse.VerifyPublish(pretty).IsValid);
    }

    [Fact]
    public void Flipped_payload_byte_is_a_signature_mismatch()
    {
        using var key = SigningKey.CreateEphemeral();
        var envelope = Dsse.SignPublish(Statement(key.PublicKey), key);
        var payload = envelope.Payload.ToArray();
        var at = Encoding.UTF8.GetString(payload).IndexOf("summarizer-v1", StringComparison.Ordinal);
        payload[at] ^= 0x01; // 's' -> 'r': still valid JSON, still a valid name
        var tampered = envelope with { Payload = payload };

        var result = Dsse.VerifyPublish(tampered);
        Assert.False(result.IsValid);
        Assert.Equal(SigningErrorCodes.SignatureMismatch, result.ErrorCode);
    }

    [Fact]
    public void Flipped_signature_byte_is_a_signature_mismatch()
    {
        using var key = SigningKey.CreateEphemeral();
        var envelope = Dsse.SignPublish(Statement(key.PublicKey), key);
        var sig = envelope.Signatures[0].Sig.ToArray();
        sig[^1] ^= 0x80;
        var tampered = envelope with { Signatures = [envelope.Signatures[0] with { Sig = sig }] };

        var result = Dsse.VerifyPublish(tampered);
        Assert.Equal(SigningErrorCodes.SignatureMismatch, result.ErrorCode);
    }

    [Fact]
    public void Each_failure_has_its_own_code()
    {
        using var key = SigningKey.CreateEphemeral();
        using var other = SigningKey.CreateEphemeral();
        var envelope = Dsse.SignPublish(Statement(key.PublicKey), key);
        var obj = envelope.ToJsonObject();

        var badBase64 = obj.DeepClone().AsObject();
        badBase64["payload"] = "!!!not base64";
        Assert.Equal(SigningErrorCodes.PayloadBase64, Dsse.VerifyPublish(badBase64.ToJsonString()).ErrorCode);

        var badSigBase64 = obj.DeepClone().AsObject();
        badSigBase64["signatures"]![0]!["sig"] = "***";
        Assert.Equal(SigningErrorCodes.SignatureBase64, Dsse.VerifyPublish(badSigBase64.ToJsonString()).ErrorCode);

        Assert.Equal(SigningErrorCodes.EnvelopeMalformed, Dsse.VerifyPublish("{not json").ErrorCode);
        Assert.Equal(SigningErrorCodes.WrongPayloadType, Dsse.VerifyPublish(envelope with { PayloadType = "text/plain" }).ErrorCode);
        Assert.Equal(SigningErrorCodes.NoSignatures, Dsse.VerifyPublish(envelope with { Signatures = [] }).ErrorCode);

        var wrongKeyId = envelope with { Signatures = [envelope.Signatures[0] with { KeyId = other.PublicKey.Fingerprint }] };
        var keyIdResult = Dsse.VerifyPublish(wrongKeyId);
        Assert.Equal(SigningErrorCodes.KeyIdMismatch, keyIdResult.ErrorCode);
        Assert.Contains(other.PublicKey.Fingerprint, keyIdResult.Reason, StringComparison.Ordinal);

        Assert.Equal(SigningErrorCodes.UnexpectedPublisher, Dsse.VerifyPublish(envelope, other.PublicKey).ErrorCode);

        // Signed by another key while claiming the first key as publisher.
        var forged = Dsse.Sign(envelope.Payload.Span, DsseEnvelope.InTotoPayloadType, other);
        forged = forged with { Signatures = [forged.Signatures[0] with { KeyId = key.PublicKey.Fingerprint }] };
        Assert.Equal(SigningErrorCodes.SignatureMismatch, Dsse.VerifyPublish(forged).ErrorCode);
    }

    [Fact]
    public void Statement_schema_violation_names_the_pointer()
    {
        using var key = SigningKey.CreateEphemeral();
        var statement = Statement(key.PublicKey).ToStatement().ToJson();
        statement["predicate"]!["manifestDigest"] = "md5:abc";
        var envelope = Dsse.Sign(CanonicalJson.Serialize(statement), DsseEnvelope.InTotoPayloadType, key);

        var result = Dsse.VerifyPublish(envelope);
        Assert.Equal(SigningErrorCodes.StatementSchema, result.ErrorCode);
        Assert.Contains("/predicate/manifestDigest", result.Reason, StringComparison.Ordinal);

        statement = Statement(key.PublicKey).ToStatement().ToJson();
        statement["_type"] = "https://in-toto.io/Statement/v0.1";
        result = Dsse.VerifyPublish(Dsse.Sign(CanonicalJson.Serialize(statement), DsseEnvelope.InTotoPayloadType, key));
        Assert.Equal(SigningErrorCodes.StatementSchema, result.ErrorCode);
        Assert.Contains("/_type", result.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Ipfs_references_must_carry_their_importer_settings()
    {
        using var key = SigningKey.CreateEphemeral();
        var ex = Assert.Throws<SigningException>(() => PublishStatement.Create("m", "1.0.0", "sha256:" + new string('a', 64), "x"u8, [new PublishedReference("ipfs://bafy", "ipfs", CidVersion: 1)], key.PublicKey, Time));
        Assert.Equal(SigningErrorCodes.StatementSchema, ex.Code);
        Assert.Contains("/predicate/contentReferences/0/rawLeaves", ex.Message, StringComparison.Ordinal);

        ex = Assert.Throws<SigningException>(() => PublishStatement.Create("m", "1.0.0", "sha256:" + new string('a', 64), "x"u8, [new PublishedReference("not a uri", "https")], key.PublicKey, Time));
        Assert.Contains("/predicate/contentReferences/0/uri", ex.Message, StringComparison.Ordinal);

        var oci = PublishStatement.Create("m", "1.0.0", "sha256:" + new string('a', 64), "x"u8, [new PublishedReference("oci://127.0.0.1:5000/m@sha256:" + new string('a', 64), "oci")], key.PublicKey, Time);
        Assert.Null(oci.ContentReferences[0].CidVersion);
    }

    [Fact]
    public void SignPublish_refuses_a_key_that_is_not_the_publisher()
    {
        using var key = SigningKey.CreateEphemeral();
        using var other = SigningKey.CreateEphemeral();
        var ex = Assert.Throws<SigningException>(() => Dsse.SignPublish(Statement(key.PublicKey), other));
        Assert.Equal(SigningErrorCodes.UnexpectedPublisher, ex.Code);
    }
}

public sealed class DuplicateKeyTests
{
    [Fact]
    public void Duplicate_members_are_refused_not_guessed()
    {
        using var key = SigningKey.CreateEphemeral();
        var envelope = Dsse.SignPublish(DsseTests.Statement(key.PublicKey), key);
        var json = envelope.ToJson();
        var duplicated = "{\"payloadType\":\"text/plain\"," + json[1..];
        Assert.Equal(SigningErrorCodes.EnvelopeMalformed, Dsse.VerifyPublish(duplicated).ErrorCode);

        // A payload with two "version" members must not verify as either of them.
        var payload = Encoding.UTF8.GetString(envelope.Payload.Span).Replace("\"version\":\"0.4.2\"", "\"version\":\"0.4.2\",\"version\":\"9.9.9\"", StringComparison.Ordinal);
        var signed = Dsse.Sign(Encoding.UTF8.GetBytes(payload), DsseEnvelope.InTotoPayloadType, key);
        var result = Dsse.VerifyPublish(signed);
        Assert.False(result.IsValid);
        Assert.Equal(SigningErrorCodes.StatementSchema, result.ErrorCode);
    }
}

/// <summary>
/// Signed material nests at most 64 levels (<see cref="StrictJson"/>): what is parsed is then walked recursively
/// (<see cref="CanonicalJson"/>, the statement's readers), and a 1 MiB publish body holds 500 000 levels. One
/// level past the bound is malformed (IM5010) when parsed, never walked.
/// </summary>
public sealed class NestingDepthTests
{
    [Fact]
    public void Signed_json_nested_deeper_than_64_levels_is_malformed()
    {
        Assert.NotNull(StrictJson.Parse(new string('[', 64) + new string(']', 64)));
        Assert.ThrowsAny<System.Text.Json.JsonException>(() => StrictJson.Parse(new string('[', 65) + new string(']', 65)));

        var deep = "{\"payloadType\":\"application/vnd.in-toto+json\",\"payload\":\"e30=\",\"signatures\":[{\"keyid\":\"\",\"sig\":\"AA==\",\"x\":" +
            new string('[', 70) + new string(']', 70) + "}]}";
        Assert.Equal(SigningErrorCodes.EnvelopeMalformed, Assert.Throws<SigningException>(() => DsseEnvelope.Parse(deep)).Code);
    }
}
