using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using InfraMind.Signing;

namespace InfraMind.Serving;

/// <summary>Why a signed mesh request was refused; null fields when it verified.</summary>
public sealed record SignatureCheck(ErrorCode? Code, string? Problem, long Timestamp)
{
    public bool Valid => Code is null;

    internal static SignatureCheck Fail(ErrorCode code, string problem) => new(code, problem, 0);
}

/// <summary>
/// Signatures over mesh requests (a node's registrations and heartbeats) and the gateway's registration reply:
/// ECDSA-SHA256 (the node's or the gateway's <see cref="SigningKey"/>) over
/// <c>InfraMind-Signature-v1 \n METHOD \n PATH \n AUDIENCE \n UNIX_MS \n hex(sha256(body))</c>. The audience is the URL
/// of the party it is meant for (scheme://host:port/), so a request signed for one gateway is refused by another; the
/// time bounds it to <see cref="DefaultSkew"/> either side of the verifier's clock, and a verifier keeps the last time
/// it accepted per node, so a captured request is never taken twice. Written by hand: HTTP message signatures
/// (RFC 9421) have no maintained .NET library, and this is the part of them the mesh needs.
/// </summary>
public static class MeshSignature
{
    /// <summary>How far a signature's time may be from the verifier's clock, either side.</summary>
    public static readonly TimeSpan DefaultSkew = TimeSpan.FromSeconds(120);

    /// <summary>Longest header value read (a P-256 or secp256k1 signature, a fingerprint and a time fit in well under it).</summary>
    public const int MaxHeaderLength = 512;

    private const string Domain = "InfraMind-Signature-v1";

    /// <summary>The last millisecond a <see cref="DateTimeOffset"/> holds (9999-12-31T23:59:59.999Z), the latest time a header may name.</summary>
    private static readonly long MaxUnixMs = DateTimeOffset.MaxValue.ToUnixTimeMilliseconds();

    /// <summary><paramref name="url"/> as an audience: scheme://host:port/, lower case, no path.</summary>
    public static string Audience(Uri url)
    {
        ArgumentNullException.ThrowIfNull(url);
        return $"{url.Scheme.ToLowerInvariant()}://{url.IdnHost.ToLowerInvariant()}:{url.Port.ToString(CultureInfo.InvariantCulture)}/";
    }

    /// <summary>The <see cref="MeshHeaders.Signature"/> value for one request or reply.</summary>
    public static string Sign(SigningKey key, string method, string path, Uri audience, long unixMs, ReadOnlySpan<byte> body)
    {
        ArgumentNullException.ThrowIfNull(key);
        var sig = key.Sign(Signed(method, path, Audience(audience), unixMs, body));
        return $"t={unixMs.ToString(CultureInfo.InvariantCulture)};key={key.PublicKey.Fingerprint};sig={System.Buffers.Text.Base64Url.EncodeToString(sig)}";
    }

    /// <summary>
    /// Checks <paramref name="header"/> against <paramref name="key"/>: well formed, signed by that key for
    /// <paramref name="method"/> <paramref name="path"/> to one of <paramref name="audiences"/> over exactly
    /// <paramref name="body"/>, at a time within <paramref name="skew"/> of <paramref name="now"/> and after
    /// <paramref name="after"/> (the last time accepted from this signer; 0 for none).
    /// </summary>
    public static SignatureCheck Verify(string? header, PublicKey key, string method, string path, IEnumerable<Uri> audiences, ReadOnlySpan<byte> body,
        DateTimeOffset now, TimeSpan skew, long after = 0)
    {
        ArgumentNullException.ThrowIfNull(key);
        ArgumentNullException.ThrowIfNull(audiences);
        if (string.IsNullOrEmpty(header))
            return SignatureCheck.Fail(MeshErrorCodes.NodeSignatureInvalid, $"no {MeshHeaders.Signature} header: the key {key.Fingerprint} signs every request");
        if (!TryParse(header, out var t, out var fingerprint, out var sig))
            return SignatureCheck.Fail(MeshErrorCodes.NodeSignatureInvalid, $"the {MeshHeaders.Signature} header is not t=UNIX_MS;key=sha256:HEX;sig=BASE64URL");
        if (fingerprint != key.Fingerprint)
            return SignatureCheck.Fail(MeshErrorCodes.NodeSignatureInvalid, $"signed by {fingerprint}, not by {key.Fingerprint}, the key this id is bound to");
        var at = DateTimeOffset.FromUnixTimeMilliseconds(t);
        if ((at - now).Duration() > skew)
            return SignatureCheck.Fail(MeshErrorCodes.SignatureExpired,
                $"signed at {at:O}, {Math.Abs((at - now).TotalSeconds):0} s from this clock ({now:O}); at most {skew.TotalSeconds:0} s either side is accepted");
        if (t <= after)
            return SignatureCheck.Fail(MeshErrorCodes.SignatureExpired, $"signed at {at:O}, not after the last accepted request of this key ({DateTimeOffset.FromUnixTimeMilliseconds(after):O}): a replay");
        var tried = new List<string>();
        foreach (var audience in audiences)
        {
            var a = Audience(audience);
            tried.Add(a);
            if (key.Verify(Signed(method, path, a, t, body), sig)) return new SignatureCheck(null, null, t);
        }

        return SignatureCheck.Fail(MeshErrorCodes.NodeSignatureInvalid,
            $"the signature does not verify with {key.Fingerprint} for {method} {path} to {string.Join(" or ", tried)}: the body was altered, or it was signed for another gateway");
    }

    private static bool TryParse(string header, out long t, out string fingerprint, out byte[] sig)
    {
        t = 0;
        fingerprint = "";
        sig = [];
        if (header.Length > MaxHeaderLength) return false;
        var parts = header.Split(';');
        if (parts.Length != 3 || !parts[0].StartsWith("t=", StringComparison.Ordinal) || !parts[1].StartsWith("key=sha256:", StringComparison.Ordinal) ||
            !parts[2].StartsWith("sig=", StringComparison.Ordinal))
            return false;
        // A time is a date this clock can hold (up to year 9999): one past it would throw where the skew is checked.
        if (!long.TryParse(parts[0].AsSpan(2), NumberStyles.None, CultureInfo.InvariantCulture, out t) || t <= 0 || t > MaxUnixMs) return false;
        fingerprint = parts[1][4..];
        if (fingerprint.Length != "sha256:".Length + 64) return false;
        try
        {
            sig = System.Buffers.Text.Base64Url.DecodeFromChars(parts[2].AsSpan(4));
        }
        catch (FormatException)
        {
            return false;
        }

        return sig.Length is > 0 and <= 80;
    }

    private static byte[] Signed(string method, string path, string audience, long unixMs, ReadOnlySpan<byte> body) =>
        Encoding.UTF8.GetBytes(string.Join('\n', Domain, method.ToUpperInvariant(), path, audience, unixMs.ToString(CultureInfo.InvariantCulture),
            Convert.ToHexStringLower(SHA256.HashData(body))));
}
