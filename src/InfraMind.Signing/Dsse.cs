using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace InfraMind.Signing;

/// <summary>Outcome of verifying a publish envelope; on failure <see cref="ErrorCode"/> and <see cref="Reason"/> say why.</summary>
public sealed record DsseVerification(bool IsValid, ErrorCode? ErrorCode, string Reason, PublishStatement? Statement, InTotoStatement? InToto)
{
    /// <summary>The signature that verified (the envelope may carry others); set when <see cref="IsValid"/>.</summary>
    public DsseSignature? Signature { get; init; }

    internal static DsseVerification Fail(ErrorCode code, string reason) => new(false, code, reason, null, null);

    /// <summary>Throws the failure as a <see cref="SigningException"/>; returns the statement when valid.</summary>
    public PublishStatement EnsureValid() =>
        IsValid && Statement is not null ? Statement : throw new SigningException(ErrorCode ?? SigningErrorCodes.StatementSchema, Reason);
}

/// <summary>DSSE signing and verification over in-toto statements.</summary>
public static class Dsse
{
    /// <summary>PAE(type, body) = "DSSEv1" SP LEN(type) SP type SP LEN(body) SP body; LEN is the ASCII decimal byte count.</summary>
    public static byte[] Pae(string payloadType, ReadOnlySpan<byte> payload)
    {
        var typeBytes = Encoding.UTF8.GetBytes(payloadType);
        var header = Encoding.UTF8.GetBytes(string.Create(CultureInfo.InvariantCulture, $"DSSEv1 {typeBytes.Length} {payloadType} {payload.Length} "));
        var result = new byte[header.Length + payload.Length];
        header.CopyTo(result, 0);
        payload.CopyTo(result.AsSpan(header.Length));
        return result;
    }

    public static DsseEnvelope Sign(ReadOnlySpan<byte> payload, string payloadType, SigningKey key)
    {
        ArgumentNullException.ThrowIfNull(key);
        var sig = key.Sign(Pae(payloadType, payload));
        return new DsseEnvelope(payloadType, payload.ToArray(), [new DsseSignature(key.PublicKey.Fingerprint, sig)]);
    }

    /// <summary>Signs the canonical bytes of a publish statement; the key must be the statement's publisher.</summary>
    public static DsseEnvelope SignPublish(PublishStatement statement, SigningKey key)
    {
        ArgumentNullException.ThrowIfNull(statement);
        ArgumentNullException.ThrowIfNull(key);
        if (!statement.Publisher.Equals(key.PublicKey))
        {
            throw new SigningException(SigningErrorCodes.UnexpectedPublisher, $"statement names publisher {statement.Publisher.Fingerprint} but key '{key.Name}' is {key.PublicKey.Fingerprint}.",
                hint: "build the statement with this key's public key");
        }

        return Sign(statement.ToStatement().ToCanonicalBytes(), DsseEnvelope.InTotoPayloadType, key);
    }

    /// <summary>Parses then verifies an envelope given as JSON text.</summary>
    public static DsseVerification VerifyPublish(string envelopeJson, PublicKey? expectedPublisher = null)
    {
        DsseEnvelope envelope;
        try
        {
            envelope = DsseEnvelope.Parse(envelopeJson);
        }
        catch (SigningException ex)
        {
            return DsseVerification.Fail(ex.Code, ex.Message);
        }

        return VerifyPublish(envelope, expectedPublisher);
    }

    /// <summary>
    /// Verifies a publish envelope: payload type, statement schema, key id, then the ECDSA signature over PAE with the
    /// publisher key embedded in the statement (or <paramref name="expectedPublisher"/>, which must match it).
    /// </summary>
    public static DsseVerification VerifyPublish(DsseEnvelope envelope, PublicKey? expectedPublisher = null)
    {
        ArgumentNullException.ThrowIfNull(envelope);
        if (envelope.PayloadType != DsseEnvelope.InTotoPayloadType)
        {
            return DsseVerification.Fail(SigningErrorCodes.WrongPayloadType, $"payloadType is '{envelope.PayloadType}', expected '{DsseEnvelope.InTotoPayloadType}'.");
        }

        if (envelope.Signatures.Count == 0)
        {
            return DsseVerification.Fail(SigningErrorCodes.NoSignatures, "envelope has no signatures.");
        }

        // The signature is checked before the schema so that a tampered payload reads as tampering, not as a
        // schema error; the key comes from the caller or, failing that, from the (still untrusted) payload.
        JsonNode? parsed = null;
        string? parseError = null;
        try
        {
            parsed = StrictJson.Parse(envelope.Payload.Span);
        }
        catch (JsonException ex)
        {
            parseError = "payload is not JSON: " + ex.Message;
        }

        var claimed = TryReadPublisher(parsed);
        if (expectedPublisher is not null && claimed is not null && !expectedPublisher.Equals(claimed))
        {
            return DsseVerification.Fail(SigningErrorCodes.UnexpectedPublisher, $"statement publisher is {claimed.Fingerprint}, expected {expectedPublisher.Fingerprint}.");
        }

        var key = expectedPublisher ?? claimed;
        if (key is null)
        {
            if (parseError is not null)
            {
                return DsseVerification.Fail(SigningErrorCodes.StatementSchema, "statement (root): " + parseError);
            }

            try
            {
                _ = PublishStatement.FromStatement(InTotoStatement.FromJson(parsed));
            }
            catch (SigningException ex)
            {
                return DsseVerification.Fail(ex.Code, ex.Message);
            }

            return DsseVerification.Fail(SigningErrorCodes.StatementSchema, "statement /predicate/publisher/publicKey: cannot be read.");
        }

        var candidates = envelope.Signatures.Where(s => s.KeyId.Length == 0 || s.KeyId == key.Fingerprint).ToList();
        if (candidates.Count == 0)
        {
            var ids = string.Join(", ", envelope.Signatures.Select(s => s.KeyId));
            return DsseVerification.Fail(SigningErrorCodes.KeyIdMismatch, $"no signature with key id {key.Fingerprint} (the publisher's); envelope has {ids}.");
        }

        var pae = Pae(envelope.PayloadType, envelope.Payload.Span);
        var verifying = candidates.FirstOrDefault(s => key.Verify(pae, s.Sig.Span));
        if (verifying is null)
        {
            return DsseVerification.Fail(SigningErrorCodes.SignatureMismatch, $"signature does not verify with publisher key {key.Fingerprint}: the payload or signature was altered, or it was signed by another key.");
        }

        InTotoStatement inToto;
        PublishStatement statement;
        try
        {
            if (parseError is not null)
            {
                return DsseVerification.Fail(SigningErrorCodes.StatementSchema, "statement (root): " + parseError);
            }

            inToto = InTotoStatement.FromJson(parsed);
            statement = PublishStatement.FromStatement(inToto);
        }
        catch (SigningException ex)
        {
            return DsseVerification.Fail(ex.Code, ex.Message);
        }

        if (!key.Equals(statement.Publisher))
        {
            return DsseVerification.Fail(SigningErrorCodes.UnexpectedPublisher, $"statement publisher is {statement.Publisher.Fingerprint}, expected {key.Fingerprint}.");
        }

        return new DsseVerification(true, null, "signature verified with " + key.Fingerprint, statement, inToto) { Signature = verifying };
    }

    private static PublicKey? TryReadPublisher(JsonNode? statement)
    {
        try
        {
            var text = statement?["predicate"]?["publisher"]?["publicKey"]?.GetValue<string>();
            return text is null ? null : PublicKey.FromBase64(text);
        }
        catch (Exception ex) when (ex is InvalidOperationException or SigningException or FormatException)
        {
            return null;
        }
    }
}
