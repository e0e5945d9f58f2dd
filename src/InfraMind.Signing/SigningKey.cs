using System.Security.Cryptography;

namespace InfraMind.Signing;

/// <summary>An ECDSA private key on P-256 or secp256k1. Signatures are ECDSA over SHA-256, DER encoded (RFC 3279), as
/// sigstore/cosign produce them, so envelopes verify with standard tooling; the fixed-size IEEE P1363 form is not
/// used anywhere.</summary>
public sealed class SigningKey : IDisposable
{
    private readonly ECDsa _ecdsa;

    internal SigningKey(string name, ECDsa ecdsa)
    {
        Name = name;
        _ecdsa = ecdsa;
        PublicKey = PublicKey.FromSubjectPublicKeyInfo(ecdsa.ExportSubjectPublicKeyInfo());
    }

    public string Name { get; }

    public PublicKey PublicKey { get; }

    public KeyType Type => PublicKey.Type;

    /// <summary>A fresh in-memory key (tests, ephemeral registries).</summary>
    public static SigningKey CreateEphemeral(string name = "ephemeral", KeyType type = KeyType.P256) => new(name, ECDsa.Create(type.Curve()));

    /// <summary>
    /// A secp256k1 key from its 32-byte private scalar (what dev chains print as <c>0x…</c>), in memory. The scalar must
    /// lie in [1, n-1]; anything else is <see cref="SigningErrorCodes.PrivateKeyInvalid"/>.
    /// </summary>
    public static SigningKey FromSecp256k1Scalar(string name, ReadOnlySpan<byte> scalar)
    {
        if (scalar.Length != 32)
        {
            throw new SigningException(SigningErrorCodes.PrivateKeyInvalid, $"a secp256k1 private key is 32 bytes (64 hex digits), not {scalar.Length}.");
        }

        var ecdsa = ECDsa.Create();
        try
        {
            // With Q left out the public point is computed from D; OpenSSL refuses 0 and scalars ≥ the curve order.
            ecdsa.ImportParameters(new ECParameters { Curve = KeyType.Secp256k1.Curve(), D = scalar.ToArray() });
            return new SigningKey(name, ecdsa);
        }
        catch (CryptographicException ex)
        {
            ecdsa.Dispose();
            throw new SigningException(SigningErrorCodes.PrivateKeyInvalid, "not a valid secp256k1 private key (it must be a number from 1 to the curve order - 1).", ex);
        }
    }

    /// <summary>
    /// An ECDSA signature (SHA-256, DER) over <paramref name="data"/>. Safe on many threads at once with one key (a node
    /// signs every answer's receipt on the thread that answers it): .NET's OpenSSL-backed ECDsa signs with a fresh
    /// EVP_PKEY_CTX over a duplicated handle per call, and OpenSSL shares an EVP_PKEY across threads for operations
    /// that do not change it (tested: PublicKeyTests.One_private_key_signs_on_many_threads_at_once…).
    /// </summary>
    public byte[] Sign(ReadOnlySpan<byte> data) =>
        _ecdsa.SignData(data, HashAlgorithmName.SHA256, DSASignatureFormat.Rfc3279DerSequence);

    /// <summary>The 32-byte private scalar of a secp256k1 key, for the chain backend's EIP-712 and transaction signatures.</summary>
    internal byte[] ExportSecp256k1Scalar()
    {
        if (Type != KeyType.Secp256k1)
        {
            throw new SigningException(SigningErrorCodes.UnsupportedKeyType, $"key '{Name}' is {Type.ToName()}; an Ethereum signature needs a secp256k1 key ('infra keys generate --type secp256k1').");
        }

        var d = _ecdsa.ExportParameters(true).D!;
        if (d.Length == 32)
        {
            return d;
        }

        var padded = new byte[32];
        d.CopyTo(padded, 32 - d.Length);
        CryptographicOperations.ZeroMemory(d);
        return padded;
    }

    internal string ExportPrivatePem(string? passphrase)
    {
        if (passphrase is null)
        {
            return _ecdsa.ExportPkcs8PrivateKeyPem();
        }

        // PBKDF2-SHA256 at OWASP's 2023 count, AES-256-CBC: what `openssl pkcs8 -topk8 -v2 aes-256-cbc` reads.
        var pbe = new PbeParameters(PbeEncryptionAlgorithm.Aes256Cbc, HashAlgorithmName.SHA256, KeyStore.Pbkdf2Iterations);
        return _ecdsa.ExportEncryptedPkcs8PrivateKeyPem(passphrase, pbe);
    }

    public void Dispose() => _ecdsa.Dispose();
}
