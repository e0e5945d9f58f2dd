using System.Security.Cryptography;

namespace InfraMind.Signing;

/// <summary>An ECDSA P-256 private key. Signatures are DER encoded (RFC 3279), as sigstore/cosign produce them,
/// so envelopes verify with standard tooling; the fixed-size IEEE P1363 form is not used anywhere.</summary>
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

    /// <summary>A fresh in-memory key (tests, ephemeral registries).</summary>
    public static SigningKey CreateEphemeral(string name = "ephemeral") => new(name, ECDsa.Create(ECCurve.NamedCurves.nistP256));

    public byte[] Sign(ReadOnlySpan<byte> data) =>
        _ecdsa.SignData(data, HashAlgorithmName.SHA256, DSASignatureFormat.Rfc3279DerSequence);

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
