using System.Text;
using InfraMind.Signing;

namespace InfraMind.Serving.Tests;

/// <summary>The signature over mesh requests and the job receipt: what verifies, and every way it must not.</summary>
public sealed class IdentityTests : IDisposable
{
    private static readonly Uri Gateway = new("http://127.0.0.1:8080/");
    private readonly SigningKey _key = SigningKey.CreateEphemeral("n");
    private readonly SigningKey _other = SigningKey.CreateEphemeral("o", KeyType.Secp256k1);
    private readonly DateTimeOffset _now = DateTimeOffset.UtcNow;

    public void Dispose()
    {
        _key.Dispose();
        _other.Dispose();
    }

    private SignatureCheck Check(string? header, byte[] body, long after = 0, string path = "/mesh/v1/nodes", Uri? audience = null) =>
        MeshSignature.Verify(header, _key.PublicKey, "POST", path, [audience ?? Gateway], body, _now, MeshSignature.DefaultSkew, after);

    [Fact]
    public void A_signature_verifies_for_its_method_path_audience_body_and_time_only()
    {
        var body = "{}"u8.ToArray();
        var t = _now.ToUnixTimeMilliseconds();
        var header = MeshSignature.Sign(_key, "POST", "/mesh/v1/nodes", Gateway, t, body);
        Assert.Equal(t, Check(header, body).Timestamp);
        // The audience is scheme://host:port/ whatever the path or case.
        Assert.True(Check(header, body, audience: new Uri("HTTP://127.0.0.1:8080/some/path")).Valid);
        Assert.Equal(MeshErrorCodes.NodeSignatureInvalid, Check(header, "{ }"u8.ToArray()).Code);
        Assert.Equal(MeshErrorCodes.NodeSignatureInvalid, Check(header, body, path: "/mesh/v1/nodes/x/heartbeat").Code);
        Assert.Equal(MeshErrorCodes.NodeSignatureInvalid, Check(header, body, audience: new Uri("http://127.0.0.1:8081/")).Code);
        Assert.Equal(MeshErrorCodes.SignatureExpired, Check(header, body, after: t).Code);
        Assert.True(Check(header, body, after: t - 1).Valid);
    }

    [Fact]
    public void The_skew_is_120_seconds_either_side()
    {
        var body = "{}"u8.ToArray();
        foreach (var (seconds, valid) in new[] { (-119, true), (119, true), (-121, false), (121, false) })
        {
            var header = MeshSignature.Sign(_key, "POST", "/mesh/v1/nodes", Gateway, _now.AddSeconds(seconds).ToUnixTimeMilliseconds(), body);
            Assert.Equal(valid, Check(header, body).Valid);
            if (!valid) Assert.Equal(MeshErrorCodes.SignatureExpired, Check(header, body).Code);
        }
    }

    public static TheoryData<string?> Malformed() =>
    [
        null, "", "t=1", "t=abc;key=sha256:" + new string('a', 64) + ";sig=AA", "t=-5;key=sha256:" + new string('a', 64) + ";sig=AA",
        "key=x;t=1;sig=AA", "t=1;key=sha256:abc;sig=AA", "t=1;key=sha256:" + new string('a', 64) + ";sig=!!", new string('t', 600),
    ];

    [Theory]
    [MemberData(nameof(Malformed))]
    public void A_malformed_or_missing_header_is_IM6041(string? header) =>
        Assert.Equal(MeshErrorCodes.NodeSignatureInvalid, Check(header, "{}"u8.ToArray()).Code);

    public static TheoryData<string> Unreadable() =>
    [
        "t=0;key=sha256:" + new string('a', 64) + ";sig=AA",
        "t=1;key=sha256:" + new string('a', 64) + ";sig=",
        "t=1;key=sha256:" + new string('a', 65) + ";sig=AA",
        "t=1;key=sha256:" + new string('a', 63) + ";sig=AA",
        "t=1;key=sha256:" + new string('a', 64) + ";sig=" + System.Buffers.Text.Base64Url.EncodeToString(new byte[81]),
        "t=1;key=sha256:" + new string('a', 64) + ";sig=AA;extra=1",
        "t=1;sig=AA;key=sha256:" + new string('a', 64),
        "t=+1;key=sha256:" + new string('a', 64) + ";sig=AA",
    ];

    /// <summary>Each part of the header is read within its bounds, and one that is not is named as unreadable, not tried.</summary>
    [Theory]
    [MemberData(nameof(Unreadable))]
    public void A_header_outside_its_form_is_named_as_such(string header)
    {
        var check = Check(header, "{}"u8.ToArray());
        Assert.Equal(MeshErrorCodes.NodeSignatureInvalid, check.Code);
        Assert.Contains("header is not t=UNIX_MS;key=sha256:HEX;sig=BASE64URL", check.Problem, StringComparison.Ordinal);
    }

    [Fact]
    public void A_header_longer_than_its_bound_is_refused_even_where_it_would_verify()
    {
        var body = "{}"u8.ToArray();
        var t = _now.ToUnixTimeMilliseconds();
        var header = MeshSignature.Sign(_key, "POST", "/mesh/v1/nodes", Gateway, t, body);
        // Leading zeros keep the time the same number: the signature still holds for it.
        string Padded(int length) => "t=" + new string('0', length - header.Length) + header[2..];
        Assert.True(Check(Padded(MeshSignature.MaxHeaderLength), body).Valid);
        var check = Check(Padded(MeshSignature.MaxHeaderLength + 1), body);
        Assert.Equal(MeshErrorCodes.NodeSignatureInvalid, check.Code);
        Assert.Contains("header is not t=UNIX_MS", check.Problem, StringComparison.Ordinal);
    }

    /// <summary>
    /// A time past what a date can hold (year 9999), under the signer's own fingerprint (which anyone may copy from a
    /// key it publishes): refused as unreadable. Before, the skew check turned it into a date and threw, so a stranger
    /// registering with a key of its own made the gateway answer 500, and an impostor gateway's reply made a node log
    /// an internal error and retry for good instead of refusing that gateway.
    /// </summary>
    [Theory]
    [InlineData("253402300800000")]
    [InlineData("9223372036854775807")]
    public void A_time_past_the_last_date_is_refused_as_unreadable_not_an_exception(string t)
    {
        var header = $"t={t};key={_key.PublicKey.Fingerprint};sig=" + System.Buffers.Text.Base64Url.EncodeToString(new byte[64]);
        var check = Check(header, "{}"u8.ToArray());
        Assert.Equal(MeshErrorCodes.NodeSignatureInvalid, check.Code);
        Assert.Contains("header is not t=UNIX_MS;key=sha256:HEX;sig=BASE64URL", check.Problem, StringComparison.Ordinal);
        // The last millisecond a date holds is still a time, read and found far from this clock.
        var last = $"t={DateTimeOffset.MaxValue.ToUnixTimeMilliseconds()};key={_key.PublicKey.Fingerprint};sig=AA";
        Assert.Equal(MeshErrorCodes.SignatureExpired, Check(last, "{}"u8.ToArray()).Code);
    }

    [Fact]
    public void The_skew_bound_itself_is_accepted_and_a_millisecond_past_it_is_not()
    {
        var body = "{}"u8.ToArray();
        var now = DateTimeOffset.FromUnixTimeMilliseconds(_now.ToUnixTimeMilliseconds());
        foreach (var (offset, valid) in new[] { (120_000, true), (-120_000, true), (120_001, false), (-120_001, false) })
        {
            var header = MeshSignature.Sign(_key, "POST", "/p", Gateway, now.AddMilliseconds(offset).ToUnixTimeMilliseconds(), body);
            var check = MeshSignature.Verify(header, _key.PublicKey, "POST", "/p", [Gateway], body, now, MeshSignature.DefaultSkew);
            Assert.True(valid == check.Valid, $"{offset} ms: {check.Problem}");
        }
    }

    [Fact]
    public void Another_keys_signature_is_refused_even_under_this_keys_fingerprint()
    {
        var body = "{}"u8.ToArray();
        var header = MeshSignature.Sign(_other, "POST", "/mesh/v1/nodes", Gateway, _now.ToUnixTimeMilliseconds(), body)
            .Replace(_other.PublicKey.Fingerprint, _key.PublicKey.Fingerprint, StringComparison.Ordinal);
        Assert.Equal(MeshErrorCodes.NodeSignatureInvalid, Check(header, body).Code);
    }

    [Fact]
    public void A_receipt_verifies_against_its_key_and_names_the_hashes_of_what_went_in_and_out()
    {
        var receipt = JobReceipts.Sign(_key, "r1", "echo", "1.0.0", "sha256:" + new string('0', 64), "in"u8, "out"u8, "n1", _now);
        var check = JobReceipts.Verify(receipt, _key.PublicKey);
        Assert.True(check.Valid, check.Problem);
        Assert.Equal(JobReceipts.Sha256("in"u8), check.Receipt!.InputSha256);
        Assert.Equal(JobReceipts.Sha256("out"u8), check.Receipt.OutputSha256);
        Assert.Equal(_key.PublicKey.SubjectPublicKeyInfoBase64, check.Receipt.NodeKey);
        Assert.True(JobReceipts.Verify(receipt, null).Valid);
        Assert.Contains(_other.PublicKey.Fingerprint, JobReceipts.Verify(receipt, _other.PublicKey).Problem, StringComparison.Ordinal);
        // Signed by another key that names itself: valid as such, but not for this node.
        var foreign = JobReceipts.Sign(_other, "r1", "echo", "1.0.0", "sha256:" + new string('0', 64), "in"u8, "out"u8, "n1", _now);
        Assert.False(JobReceipts.Verify(foreign, _key.PublicKey).Valid);
        // A request id beyond the limit is left out rather than grow the receipt.
        var longId = JobReceipts.Sign(_key, new string('r', JobReceipts.MaxRequestIdLength + 1), "echo", "1.0.0", "d", "in"u8, "out"u8, "n1", _now);
        Assert.Equal("", JobReceipts.Verify(longId, _key.PublicKey).Receipt!.RequestId);
        var longestId = new string('r', JobReceipts.MaxRequestIdLength);
        Assert.Equal(longestId, JobReceipts.Verify(JobReceipts.Sign(_key, longestId, "echo", "1.0.0", "d", "in"u8, "out"u8, "n1", _now), _key.PublicKey).Receipt!.RequestId);
    }

    public static TheoryData<string> BadReceipts() =>
    [
        "", "not base64 !", System.Buffers.Text.Base64Url.EncodeToString("{}"u8), new string('A', JobReceipts.MaxEncodedLength + 1),
        """{"payloadType":"application/vnd.in-toto+json","payload":"e30=","signatures":[]}""",
        """{"payloadType":"application/vnd.inframind.receipt.v1+json","payload":"e30=","signatures":[]}""",
    ];

    [Theory]
    [MemberData(nameof(BadReceipts))]
    public void What_is_not_a_receipt_is_refused_with_a_reason(string receipt)
    {
        var check = JobReceipts.Verify(receipt, _key.PublicKey);
        Assert.False(check.Valid);
        Assert.False(string.IsNullOrWhiteSpace(check.Problem));
    }

    [Fact]
    public void A_receipt_verifies_when_one_of_its_signatures_is_the_nodes()
    {
        var receipt = JobReceipts.Sign(_key, "r1", "echo", "1.0.0", "d", "in"u8, "out"u8, "n1", _now);
        var envelope = DsseEnvelope.Parse(System.Buffers.Text.Base64Url.DecodeFromChars(receipt));
        var stray = new DsseSignature(_other.PublicKey.Fingerprint, new byte[] { 0x30, 0x00 });
        Assert.True(JobReceipts.Verify((envelope with { Signatures = [stray, envelope.Signatures[0]] }).ToJson(), _key.PublicKey).Valid);
        Assert.False(JobReceipts.Verify((envelope with { Signatures = [stray] }).ToJson(), _key.PublicKey).Valid);
    }

    [Fact]
    public void An_altered_payload_does_not_verify()
    {
        var receipt = JobReceipts.Sign(_key, "r1", "echo", "1.0.0", "d", "in"u8, "out"u8, "n1", _now);
        var envelope = DsseEnvelope.Parse(System.Buffers.Text.Base64Url.DecodeFromChars(receipt));
        var altered = envelope with { Payload = Encoding.UTF8.GetBytes(Encoding.UTF8.GetString(envelope.Payload.Span).Replace("\"n1\"", "\"n2\"", StringComparison.Ordinal)) };
        Assert.NotEqual(envelope.Payload.ToArray(), altered.Payload.ToArray());
        Assert.False(JobReceipts.Verify(altered.ToJson(), _key.PublicKey).Valid);
    }

    [Fact]
    public void Request_ids_are_128_random_bits_in_hex_and_never_repeat_across_batches_and_threads()
    {
        // Each thread takes its ids from batches of RequestIdBatch: more than two batches each, on four threads at once.
        const int Threads = 4;
        var perThread = (2 * JobReceipts.RequestIdBatch) + 3;
        var ids = new string[Threads][];
        var threads = Enumerable.Range(0, Threads).Select(t => new Thread(() => ids[t] = [.. Enumerable.Range(0, perThread).Select(_ => JobReceipts.NewRequestId())])).ToList();
        threads.ForEach(t => t.Start());
        threads.ForEach(t => t.Join());

        var all = ids.SelectMany(i => i).ToList();
        Assert.Equal(Threads * perThread, all.Count);
        Assert.All(all, id => Assert.Matches("^[0-9a-f]{32}$", id));
        Assert.Equal(all.Count, all.Distinct(StringComparer.Ordinal).Count());
        // Random, not a counter or cleared bytes handed out again: every hex position takes many values.
        Assert.All(Enumerable.Range(0, 32), position => Assert.True(all.Select(id => id[position]).Distinct().Count() >= 12, $"position {position}"));
    }
}
