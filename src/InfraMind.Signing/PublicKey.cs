using System.Collections.Concurrent;
using System.Security.Cryptography;
using Nethereum.Util;

namespace InfraMind.Signing;

/// <summary>
/// An ECDSA public key on P-256 or secp256k1 (<see cref="Type"/>), identified by the SHA-256 of its DER
/// SubjectPublicKeyInfo. A secp256k1 key also has an Ethereum <see cref="EthereumAddress"/>.
/// </summary>
public sealed class PublicKey : IEquatable<PublicKey>
{
    // DER SubjectPublicKeyInfo headers of an uncompressed point: id-ecPublicKey, the named curve, BIT STRING.
    private static readonly byte[] P256SpkiPrefix = Convert.FromHexString("3059301306072a8648ce3d020106082a8648ce3d030107034200");
    private static readonly byte[] Secp256k1SpkiPrefix = Convert.FromHexString("3056301006072a8648ce3d020106052b8104000a034200");
    private const int P256SpkiLength = 91;
    private const int Secp256k1SpkiLength = 88;
    internal const int CacheLimit = 4096;

    /// <summary>Most of a PEM file <see cref="FromPemFile"/> reads: a public key PEM is a few hundred bytes.</summary>
    public const int MaxPemFileBytes = 64 * 1024;

    // Key import costs far more than a verification; publishers and the registry key recur constantly.
    private static readonly ConcurrentDictionary<string, PublicKey> Cache = new(StringComparer.Ordinal);

    /// <summary>Keys parsed and kept (at most <see cref="CacheLimit"/>, whatever strangers send).</summary>
    internal static int CachedCount => Cache.Count;

    private readonly byte[] _spki;

    // Native key objects of this key not in use: a verification takes one (importing another when none is free) and
    // gives it back. Concurrent use of one object is not documented as safe, and one object behind a lock made a key's
    // verifications wait for each other (a busy node's receipts at a gateway: ~19,000 a second on one core, whatever
    // the cores). At most MaxIdleKeyObjects are kept, so a key costs no more however many threads once used it.
    private readonly ConcurrentBag<ECDsa> _idle = [];
    private int _idleCount = 1;

    /// <summary>The most native key objects one key keeps for its verifications: one per core.</summary>
    internal static int MaxIdleKeyObjects => Environment.ProcessorCount;

    /// <summary>How many native key objects this key keeps now (at most <see cref="MaxIdleKeyObjects"/>).</summary>
    internal int IdleKeyObjects => Volatile.Read(ref _idleCount);

    private PublicKey(byte[] spki, string fingerprint, ECDsa ecdsa, KeyType type)
    {
        _spki = spki;
        Fingerprint = fingerprint;
        _idle.Add(ecdsa);
        Type = type;
        if (type == KeyType.Secp256k1)
        {
            // Ethereum: the last 20 bytes of Keccak-256 over X‖Y (the point without its 0x04 prefix), EIP-55 checksummed.
            var hash = Sha3Keccack.Current.CalculateHash(spki.AsSpan(spki.Length - 64).ToArray());
            EthereumAddress = new AddressUtil().ConvertToChecksumAddress(Convert.ToHexStringLower(hash.AsSpan(12)));
        }
    }

    public KeyType Type { get; }

    /// <summary>The EIP-55 checksummed Ethereum address (<c>0x…</c>) of a secp256k1 key; null for P-256.</summary>
    public string? EthereumAddress { get; }

    /// <summary><c>sha256:</c> + lowercase hex of the DER SubjectPublicKeyInfo; also the DSSE key id.</summary>
    public string Fingerprint { get; }

    public ReadOnlySpan<byte> SubjectPublicKeyInfo => _spki;

    public string SubjectPublicKeyInfoBase64 => Convert.ToBase64String(_spki);

    public static string FingerprintOf(ReadOnlySpan<byte> spki) => "sha256:" + Convert.ToHexStringLower(SHA256.HashData(spki));

    /// <summary>Parses a DER SubjectPublicKeyInfo; only uncompressed P-256 and secp256k1 keys are accepted.</summary>
    public static PublicKey FromSubjectPublicKeyInfo(ReadOnlySpan<byte> spki)
    {
        KeyType type;
        if (spki.Length == P256SpkiLength && spki.StartsWith(P256SpkiPrefix))
        {
            type = KeyType.P256;
        }
        else if (spki.Length == Secp256k1SpkiLength && spki.StartsWith(Secp256k1SpkiPrefix))
        {
            type = KeyType.Secp256k1;
        }
        else
        {
            throw new SigningException(SigningErrorCodes.PublicKeyInvalid, "public key is not an uncompressed P-256 or secp256k1 SubjectPublicKeyInfo; InfraMind signs with ECDSA on those two curves only.");
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
            throw new SigningException(SigningErrorCodes.PublicKeyInvalid, $"public key is not a valid {type.ToName()} point: " + ex.Message, ex);
        }

        var key = new PublicKey(copy, fingerprint, ecdsa, type);
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
            // .NET's own text is about its API ("not the path to such a file. (Parameter 'input')"), not the user's file.
            throw new SigningException(SigningErrorCodes.PublicKeyInvalid, "not a PEM public key (no readable '-----BEGIN PUBLIC KEY-----' block)", ex);
        }

        return FromSubjectPublicKeyInfo(ecdsa.ExportSubjectPublicKeyInfo());
    }

    /// <summary>The public key in the PEM file at <paramref name="path"/>; a failure names the file.</summary>
    public static PublicKey FromPemFile(string path)
    {
        try
        {
            return FromPem(ReadPemFile(path));
        }
        catch (SigningException ex)
        {
            throw new SigningException(ex.Code, $"{path}: {ex.Message}", ex);
        }
    }

    /// <summary>The file's text, at most <see cref="MaxPemFileBytes"/> (<see cref="BoundedBody.ReadText"/>).</summary>
    private static string ReadPemFile(string path) =>
        BoundedBody.ReadText(path, MaxPemFileBytes)
            ?? throw new SigningException(SigningErrorCodes.PublicKeyInvalid, $"holds more than {MaxPemFileBytes} bytes; a PEM public key is a few hundred");

    public string ToPem() => PemEncoding.WriteString("PUBLIC KEY", _spki);

    /// <summary>Verifies a DER (RFC 3279) ECDSA-SHA256 signature over <paramref name="data"/>.</summary>
    public bool Verify(ReadOnlySpan<byte> data, ReadOnlySpan<byte> derSignature)
    {
        if (_idle.TryTake(out var ecdsa))
        {
            Interlocked.Decrement(ref _idleCount);
        }
        else
        {
            ecdsa = ECDsa.Create();
            // The point was checked on the curve when this key was made: the same bytes import again.
            ecdsa.ImportSubjectPublicKeyInfo(_spki, out _);
        }

        try
        {
            return ecdsa.VerifyData(data, derSignature, HashAlgorithmName.SHA256, DSASignatureFormat.Rfc3279DerSequence);
        }
        catch (CryptographicException)
        {
            return false;
        }
        finally
        {
            // Counted before it is added, so the bound holds however many threads give one back at once.
            if (Interlocked.Increment(ref _idleCount) <= MaxIdleKeyObjects)
            {
                _idle.Add(ecdsa);
            }
            else
            {
                Interlocked.Decrement(ref _idleCount);
                ecdsa.Dispose();
            }
        }
    }

    public bool Equals(PublicKey? other) => other is not null && _spki.AsSpan().SequenceEqual(other._spki);

    public override bool Equals(object? obj) => Equals(obj as PublicKey);

    public override int GetHashCode() => Fingerprint.GetHashCode(StringComparison.Ordinal);

    public override string ToString() => Fingerprint;
}
