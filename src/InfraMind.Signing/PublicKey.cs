using System.Security.Cryptography;

namespace InfraMind.Signing;

/// <summary>An ECDSA P-256 public key, identified by the SHA-256 of its DER SubjectPublicKeyInfo.</summary>
public sealed class PublicKey : IEquatable<PublicKey>
{
    private readonly byte[] _spki;

    private PublicKey(byte[] spki, string fingerprint)
    {
        _spki = spki;
        Fingerprint = fingerprint;
    }

    /// <summary><c>sha256:</c> + lowercase hex of the DER SubjectPublicKeyInfo; also the DSSE key id.</summary>
    public string Fingerprint { get; }

    public ReadOnlySpan<byte> SubjectPublicKeyInfo => _spki;

    public string SubjectPublicKeyInfoBase64 => Convert.ToBase64String(_spki);

    public static string FingerprintOf(ReadOnlySpan<byte> spki) => "sha256:" + Convert.ToHexStringLower(SHA256.HashData(spki));

    /// <summary>Parses a DER SubjectPublicKeyInfo; only P-256 keys are accepted.</summary>
    public static PublicKey FromSubjectPublicKeyInfo(ReadOnlySpan<byte> spki)
    {
        using var ecdsa = ECDsa.Create();
        try
        {
            ecdsa.ImportSubjectPublicKeyInfo(spki, out var read);
            if (read != spki.Length)
            {
                throw new SigningException(SigningErrorCodes.PublicKeyInvalid, "public key has trailing bytes after its SubjectPublicKeyInfo.");
            }
        }
        catch (CryptographicException ex)
        {
            throw new SigningException(SigningErrorCodes.PublicKeyInvalid, "public key is not a valid DER SubjectPublicKeyInfo: " + ex.Message, ex);
        }

        var p = ecdsa.ExportParameters(false);
        if (p.Curve.Oid.Value != ECCurve.NamedCurves.nistP256.Oid.Value)
        {
            throw new SigningException(SigningErrorCodes.PublicKeyInvalid, "public key is not on curve P-256; InfraMind signs with ECDSA P-256 only.");
        }

        var copy = spki.ToArray();
        return new PublicKey(copy, FingerprintOf(copy));
    }

    public static PublicKey FromBase64(string spkiBase64)
    {
        byte[] bytes;
        try
        {
            bytes = Convert.FromBase64String(spkiBase64);
        }
        catch (FormatException ex)
        {
            throw new SigningException(SigningErrorCodes.PublicKeyInvalid, "public key is not valid base64.", ex);
        }

        return FromSubjectPublicKeyInfo(bytes);
    }

    public static PublicKey FromPem(string pem)
    {
        using var ecdsa = ECDsa.Create();
        try
        {
            ecdsa.ImportFromPem(pem);
        }
        catch (Exception ex) when (ex is ArgumentException or CryptographicException)
        {
            throw new SigningException(SigningErrorCodes.PublicKeyInvalid, "not a PEM public key (expected '-----BEGIN PUBLIC KEY-----'): " + ex.Message, ex);
        }

        return FromSubjectPublicKeyInfo(ecdsa.ExportSubjectPublicKeyInfo());
    }

    public string ToPem() => PemEncoding.WriteString("PUBLIC KEY", _spki);

    /// <summary>Verifies a DER (RFC 3279) ECDSA-SHA256 signature over <paramref name="data"/>.</summary>
    public bool Verify(ReadOnlySpan<byte> data, ReadOnlySpan<byte> derSignature)
    {
        using var ecdsa = ECDsa.Create();
        ecdsa.ImportSubjectPublicKeyInfo(_spki, out _);
        try
        {
            return ecdsa.VerifyData(data, derSignature, HashAlgorithmName.SHA256, DSASignatureFormat.Rfc3279DerSequence);
        }
        catch (CryptographicException)
        {
            return false;
        }
    }

    public bool Equals(PublicKey? other) => other is not null && _spki.AsSpan().SequenceEqual(other._spki);

    public override bool Equals(object? obj) => Equals(obj as PublicKey);

    public override int GetHashCode() => Fingerprint.GetHashCode(StringComparison.Ordinal);

    public override string ToString() => Fingerprint;
}
