using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using InfraMind.Signing;

namespace InfraMind.Serving;

/// <summary>
/// What a node signs for every job it answers: which request, which model (name, version, image digest), the SHA-256 of
/// the input as the model got it and of the output as the model gave it, the node, and when. <see cref="NodeKey"/> is
/// the signer's public key (DER SubjectPublicKeyInfo, base64), so a receipt verifies offline against a fingerprint.
/// </summary>
public sealed record JobReceipt(
    string RequestId, string Model, string Version, string ImageDigest, string InputSha256, string OutputSha256, string Node, string NodeKey, DateTimeOffset Time);

/// <summary>A receipt that verified, or why it did not.</summary>
public sealed record ReceiptCheck(JobReceipt? Receipt, string? Problem)
{
    public bool Valid => Receipt is not null;
}

/// <summary>
/// Job receipts as DSSE envelopes (payload type <see cref="PayloadType"/>, the payload canonical JSON). On the wire
/// (<see cref="MeshHeaders.Receipt"/>) an envelope is its canonical JSON, base64url without padding.
/// </summary>
public static class JobReceipts
{
    public const string PayloadType = "application/vnd.inframind.receipt.v1+json";

    /// <summary>Longest receipt read (header or file): a few hundred bytes of payload and one signature fit in far less.</summary>
    public const int MaxEncodedLength = 8 * 1024;

    /// <summary>Longest request id a node puts in a receipt (the gateway's are 32 hex digits); a longer one is left out.</summary>
    public const int MaxRequestIdLength = 128;

    public static string Sha256(ReadOnlySpan<byte> bytes) => "sha256:" + Convert.ToHexStringLower(SHA256.HashData(bytes));

    /// <summary>
    /// A fresh request id: 128 bits from the operating system's cryptographic generator, as 32 lowercase hex digits.
    /// Taken from a batch of <see cref="RequestIdBatch"/> ids per thread: <see cref="RandomNumberGenerator"/> costs one
    /// system call per call (a read of the kernel's generator: ~2 µs on an idle 2-CPU machine, ~9 µs inside a loaded
    /// gateway, where an id is made for every request), a batch one per 256 ids.
    /// </summary>
    public static string NewRequestId()
    {
        const int Bytes = 16;
        var batch = t_ids ??= new byte[RequestIdBatch * Bytes];
        if (t_idsUsed == 0) RandomNumberGenerator.Fill(batch);
        var id = batch.AsSpan(t_idsUsed * Bytes, Bytes);
        var hex = Convert.ToHexStringLower(id);
        // Handed out once: the bytes are cleared, and the batch is filled anew when every id in it has been taken.
        id.Clear();
        t_idsUsed = (t_idsUsed + 1) % RequestIdBatch;
        return hex;
    }

    /// <summary>How many request ids one call to the operating system's generator yields (a thread's batch: 4 KiB).</summary>
    public const int RequestIdBatch = 256;

    [ThreadStatic] private static byte[]? t_ids;
    [ThreadStatic] private static int t_idsUsed;

    /// <summary>Signs the receipt of one job and returns its wire form.</summary>
    public static string Sign(SigningKey key, string requestId, string model, string version, string imageDigest, ReadOnlySpan<byte> input, ReadOnlySpan<byte> output,
        string node, DateTimeOffset time)
    {
        ArgumentNullException.ThrowIfNull(key);
        var payload = CanonicalJson.SerializeStrings(
            new("_type", "https://inframind.dev/receipt/v1"),
            new("requestId", requestId.Length <= MaxRequestIdLength ? requestId : ""),
            new("model", model),
            new("version", version),
            new("imageDigest", imageDigest),
            new("inputSha256", Sha256(input)),
            new("outputSha256", Sha256(output)),
            new("node", node),
            new("nodeKey", key.PublicKey.SubjectPublicKeyInfoBase64),
            new("time", time.ToUniversalTime().ToString("yyyy-MM-ddTHH:mm:ss.fffZ", System.Globalization.CultureInfo.InvariantCulture)));
        var envelope = Dsse.Sign(payload, PayloadType, key);
        return System.Buffers.Text.Base64Url.EncodeToString(envelope.ToCanonicalJson());
    }

    /// <summary>
    /// Verifies a receipt in wire form (or as envelope JSON): its envelope, payload type and fields, and a signature by
    /// the key the payload names, which must be <paramref name="expected"/> when given.
    /// </summary>
    public static ReceiptCheck Verify(string? receipt, PublicKey? expected)
    {
        if (string.IsNullOrWhiteSpace(receipt)) return new(null, "no receipt");
        receipt = receipt.Trim();
        if (receipt.Length > MaxEncodedLength) return new(null, $"the receipt is longer than {MaxEncodedLength} characters");
        byte[] json;
        if (receipt.StartsWith('{'))
        {
            json = Encoding.UTF8.GetBytes(receipt);
        }
        else
        {
            try
            {
                json = System.Buffers.Text.Base64Url.DecodeFromChars(receipt);
            }
            catch (FormatException)
            {
                return new(null, "the receipt is neither base64url nor envelope JSON");
            }
        }

        DsseEnvelope envelope;
        try
        {
            envelope = DsseEnvelope.Parse(json);
        }
        catch (SigningException e)
        {
            return new(null, e.Message);
        }

        if (envelope.PayloadType != PayloadType) return new(null, $"payloadType is '{envelope.PayloadType}', not '{PayloadType}'");
        JobReceipt parsed;
        PublicKey key;
        try
        {
            parsed = Read(InfraMind.Signing.StrictJson.Parse(envelope.Payload.Span));
            key = PublicKey.FromBase64(parsed.NodeKey);
        }
        catch (Exception e) when (e is JsonException or SigningException or FormatException or InvalidOperationException)
        {
            return new(null, $"the receipt's payload is not a receipt: {e.Message}");
        }

        if (expected is not null && !expected.Equals(key))
            return new(null, $"the receipt is signed by node key {key.Fingerprint}, not {expected.Fingerprint}");
        var pae = Dsse.Pae(envelope.PayloadType, envelope.Payload.Span);
        if (!envelope.Signatures.Any(s => s.KeyId == key.Fingerprint && key.Verify(pae, s.Sig.Span)))
            return new(null, $"no signature of {key.Fingerprint} over the receipt verifies: it was altered, or not signed by that key");
        return new(parsed, null);
    }

    private static JobReceipt Read(JsonNode? node)
    {
        if (node is not JsonObject o || o["_type"]?.GetValue<string>() != "https://inframind.dev/receipt/v1")
            throw new FormatException("not an object of _type https://inframind.dev/receipt/v1");
        string S(string name) => o[name]?.GetValue<string>() ?? throw new FormatException($"/{name} is missing");
        if (!DateTimeOffset.TryParse(S("time"), System.Globalization.CultureInfo.InvariantCulture, System.Globalization.DateTimeStyles.AssumeUniversal, out var time))
            throw new FormatException("/time is not a time");
        return new JobReceipt(S("requestId"), S("model"), S("version"), S("imageDigest"), S("inputSha256"), S("outputSha256"), S("node"), S("nodeKey"), time);
    }
}
