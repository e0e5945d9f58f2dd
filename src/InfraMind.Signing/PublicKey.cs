using System.Collections.Concurrent;
using System.Security.Cryptography;

namespace InfraMind.Signing;

/// <summary>An ECDSA P-256 public key, identified by the SHA-256 of its DER SubjectPublicKeyInfo.</summary>
public sealed class PublicKey : IEquatable<PublicKey>
{
    // DER SubjectPublicKeyInfo header of an uncompressed P-256 point: id-ecPublicKey, prime256v1, BIT STRING.
    private static readonly byte[] P256SpkiPrefix = Convert.FromHexString("3059301306072a8648ce3d020106082a8648ce3d030107034200");
    private const int P256SpkiLength = 91;
    private const int CacheLimit = 4096;

    // Key import costs far more than a verification; publishers and the registry key recur constantly.
    private static readonly ConcurrentDictionary<string, PublicKey> Cache = new(StringComparer.Ordinal);

    private readonly byte[] _spki;
    private readonly ECDsa _ecdsa;
    private readonly Lock _ecdsaLock = new();

    private PublicKey(byte[] spki, string fingerprint, ECDsa ecdsa)
    {
        _spki = spki;
        Fingerprint = fingerprint;
        _ecdsa = ecdsa;
    }

    /// <summary><c>sha256:</c> + lowercase hex of the DER SubjectPublicKeyInfo; also the DSSE key id.</summary>
    public string Fingerprint { get; }

    public ReadOnlySpan<byte> SubjectPublicKeyInfo => _spki;

    public string SubjectPublicKeyInfoBase64 => Convert.ToBase64String(_spki);

    public static string FingerprintOf(ReadOnlySpan<byte> spki) => "sha256:" + Convert.ToHexStringLower(SHA256.HashData(spki));

    /// <summary>Parses a DER SubjectPublicKeyInfo; only P-256 keys are accepted.</summary>
    public static PublicKey FromSubjectPublicKeyInfo(ReadOnlySpan<byte> spki)
    {
        if (spki.Length != P256SpkiLength || !spki.StartsWith(P256SpkiPrefix))
        {
            throw new SigningException(SigningErrorCodes.PublicKeyInvalid, "public key is not an uncompressed P-256 SubjectPublicKeyInfo; InfraMind signs with ECDSA P-256 only.");
        }

        var copy = spki.ToArray();
        var fingerprint = FingerprintOf(copy);
        if (Cache.TryGetValue(fingerprint, out var cached))
        {
            return cached;
        }

        var ecdsa = ECDsa.Create();
        try
        {
            // Import checks that the point is on the curve.
            ecdsa.ImportSubjectPublicKeyInfo(copy, out _);
        }
        catch (CryptographicException ex)
        {
            ecdsa.Dispose();
            throw new SigningException(SigningErrorCodes.PublicKeyInvalid, "public key is not a valid P-256 point: " + ex.Message, ex);
        }

        var key = new PublicKey(copy, fingerprint, ecdsa);
        if (Cache.Count >= CacheLimit)
        {
            Cache.Clear();
        }

        return Cache.GetOrAdd(fingerprint, key);
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
        try
        {
            // One native key object per public key; concurrent use of it is not documented as safe.
            lock (_ecdsaLock)
            {
                return _ecdsa.VerifyData(data, derSignature, HashAlgorithmName.SHA256, DSASignatureFormat.Rfc3279DerSequence);
            }
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
