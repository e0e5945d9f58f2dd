using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace InfraMind.Signing;

/// <summary>One DSSE signature: <see cref="KeyId"/> is the signer's fingerprint, <see cref="Sig"/> a DER ECDSA signature.</summary>
public sealed record DsseSignature(string KeyId, ReadOnlyMemory<byte> Sig);

/// <summary>A DSSE envelope (https://github.com/secure-systems-lab/dsse/blob/master/envelope.md).</summary>
public sealed record DsseEnvelope(string PayloadType, ReadOnlyMemory<byte> Payload, IReadOnlyList<DsseSignature> Signatures)
{
    public const string InTotoPayloadType = "application/vnd.in-toto+json";

    public JsonObject ToJsonObject()
    {
        var sigs = new JsonArray();
        foreach (var s in Signatures)
        {
            sigs.Add(new JsonObject { ["keyid"] = s.KeyId, ["sig"] = Convert.ToBase64String(s.Sig.Span) });
        }

        return new JsonObject
        {
            ["payloadType"] = PayloadType,
            ["payload"] = Convert.ToBase64String(Payload.Span),
            ["signatures"] = sigs,
        };
    }

    /// <summary>
    /// Canonical (RFC 8785) JSON; also what the registry log stores as the leaf. The bytes
    /// <c>CanonicalJson.Serialize(ToJsonObject())</c> gives, written straight from the envelope's fields (members in
    /// their canonical order: payload, payloadType, signatures; keyid, sig) without the JSON tree in between.
    /// </summary>
    public byte[] ToCanonicalJson()
    {
        var payload = Convert.ToBase64String(Payload.Span);
        var sb = new StringBuilder(payload.Length + PayloadType.Length + (Signatures.Count * 200) + 64);
        sb.Append("{\"payload\":\"").Append(payload).Append("\",\"payloadType\":");
        CanonicalJson.WriteString(sb, PayloadType);
        sb.Append(",\"signatures\":[");
        for (var i = 0; i < Signatures.Count; i++)
        {
            if (i > 0) sb.Append(',');
            sb.Append("{\"keyid\":");
            CanonicalJson.WriteString(sb, Signatures[i].KeyId);
            sb.Append(",\"sig\":\"").Append(Convert.ToBase64String(Signatures[i].Sig.Span)).Append("\"}");
        }

        sb.Append("]}");
        return Encoding.UTF8.GetBytes(sb.ToString());
    }

    public string ToJson() => Encoding.UTF8.GetString(ToCanonicalJson());

    public static DsseEnvelope Parse(string json) => Parse(Encoding.UTF8.GetBytes(json));

    /// <summary>Structural parse; IM5010 malformed, IM5011 payload not base64, IM5014 signature not base64.</summary>
    public static DsseEnvelope Parse(ReadOnlySpan<byte> utf8Json)
    {
        JsonNode? root;
        try
        {
            root = StrictJson.Parse(utf8Json);
        }
        catch (JsonException ex)
        {
            throw new SigningException(SigningErrorCodes.EnvelopeMalformed, "envelope is not JSON: " + ex.Message);
        }

        return FromJson(root);
    }

    public static DsseEnvelope FromJson(JsonNode? root)
    {
        if (root is not JsonObject obj)
        {
            throw new SigningException(SigningErrorCodes.EnvelopeMalformed, "envelope must be a JSON object {payloadType, payload, signatures}.");
        }

        var payloadType = StringField(obj, "payloadType");
        var payloadText = StringField(obj, "payload");
        var payload = DecodeBase64(payloadText) ?? throw new SigningException(SigningErrorCodes.PayloadBase64, "envelope /payload is not valid base64.");
        if (obj["signatures"] is not JsonArray sigArray)
        {
            throw new SigningException(SigningErrorCodes.EnvelopeMalformed, "envelope /signatures must be an array.");
        }

        var sigs = new List<DsseSignature>();
        for (var i = 0; i < sigArray.Count; i++)
        {
            if (sigArray[i] is not JsonObject s)
            {
                throw new SigningException(SigningErrorCodes.EnvelopeMalformed, $"envelope /signatures/{i} must be an object {{keyid, sig}}.");
            }

            var keyId = s["keyid"] is null ? string.Empty : StringField(s, "keyid", $"/signatures/{i}/", allowEmpty: true);
            var sigText = StringField(s, "sig", $"/signatures/{i}/");
            var sig = DecodeBase64(sigText) ?? throw new SigningException(SigningErrorCodes.SignatureBase64, $"envelope /signatures/{i}/sig is not valid base64.");
            sigs.Add(new DsseSignature(keyId, sig));
        }

        return new DsseEnvelope(payloadType, payload, sigs);
    }

    /// <summary>DSSE allows standard or URL-safe base64; accept both, produce standard.</summary>
    private static byte[]? DecodeBase64(string text)
    {
        var s = text.Replace('-', '+').Replace('_', '/');
        if (s.Length % 4 != 0 && !s.EndsWith('='))
        {
            s = s.PadRight(s.Length + ((4 - (s.Length % 4)) % 4), '=');
        }

        var buffer = new byte[s.Length];
        return Convert.TryFromBase64String(s, buffer, out var written) ? buffer[..written] : null;
    }

    private static string StringField(JsonObject obj, string name, string at = "/", bool allowEmpty = false)
    {
        if (obj[name] is JsonValue v && v.GetValueKind() == JsonValueKind.String)
        {
            var s = v.GetValue<string>();
            if (allowEmpty || s.Length > 0)
            {
                return s;
            }
        }

        throw new SigningException(SigningErrorCodes.EnvelopeMalformed, string.Create(CultureInfo.InvariantCulture, $"envelope {at}{name} is required and must be a non-empty string."));
    }
}
