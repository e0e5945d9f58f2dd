using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace InfraMind.Serving.Tls;

/// <summary>
/// TLS between mesh members without a CA (#16): each server makes its own self-signed certificate (ECDSA P-256) once,
/// keeps it owner-only and reuses it across restarts; its peers pin the SHA-256 of its SubjectPublicKeyInfo
/// (<c>sha256:HEX</c>), exchanged in a signed registration. The pin is of the key, not of the certificate, so a
/// certificate renewed with the same key still matches.
/// </summary>
public static class MeshTls
{
    /// <summary>How long a made certificate is valid: the pin, not the dates, is what a peer checks.</summary>
    private static readonly TimeSpan Validity = TimeSpan.FromDays(3650);

    /// <summary><c>sha256:HEX</c> of the certificate's SubjectPublicKeyInfo (DER), the form a peer pins.</summary>
    public static string Fingerprint(X509Certificate2 certificate)
    {
        ArgumentNullException.ThrowIfNull(certificate);
        return "sha256:" + Convert.ToHexStringLower(SHA256.HashData(certificate.PublicKey.ExportSubjectPublicKeyInfo()));
    }

    /// <summary>True for a well-formed pin: <c>sha256:</c> and 64 lower-case hex digits.</summary>
    public static bool IsFingerprint(string? text) =>
        text is { Length: 71 } && text.StartsWith("sha256:", StringComparison.Ordinal) && text.AsSpan(7).IndexOfAnyExcept(LowerHex) < 0;

    private static readonly System.Buffers.SearchValues<char> LowerHex = System.Buffers.SearchValues.Create("0123456789abcdef");

    /// <summary>A new self-signed server certificate for <paramref name="subject"/> (a node id or "gateway"), with its private key.</summary>
    public static X509Certificate2 Create(string subject)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest(new X500DistinguishedName($"CN={Escape(subject)}, O=InfraMind mesh"), key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1")], false));
        var now = DateTimeOffset.UtcNow;
        using var made = request.CreateSelfSigned(now.AddMinutes(-5), now.Add(Validity));
        // Exported and loaded again so the key is usable by SslStream on every platform (an ephemeral key is not on all).
        return X509CertificateLoader.LoadPkcs12(made.Export(X509ContentType.Pkcs12), null);
    }

    /// <summary>
    /// The certificate kept in <paramref name="file"/> (PKCS#12, no password: the file is owner-only, like the node's
    /// credential beside it), made and kept there first when there is none, so that the pin a peer holds stays true
    /// across restarts.
    /// </summary>
    public static X509Certificate2 LoadOrCreate(string file, string subject)
    {
        ArgumentException.ThrowIfNullOrEmpty(file);
        if (File.Exists(file))
        {
            try
            {
                return X509CertificateLoader.LoadPkcs12FromFile(file, null);
            }
            catch (CryptographicException e)
            {
                throw new InfraMindException(MeshErrorCodes.TlsCertificateInvalid, $"the TLS certificate {file} cannot be read: {e.Message}", innerException: e);
            }
        }

        var certificate = Create(subject);
        // Two processes racing: the first kept wins, and both serve it.
        if (AtomicFile.CreateOnce(file, certificate.Export(X509ContentType.Pkcs12))) return certificate;
        certificate.Dispose();
        return X509CertificateLoader.LoadPkcs12FromFile(file, null);
    }

    /// <summary>
    /// Client TLS options that take the server's certificate only when its key's fingerprint is <paramref name="pin"/>
    /// (no CA, no host name check: the pin names the one key the peer registered). <paramref name="mismatch"/> is told
    /// the fingerprint presented instead, so the failure can name it.
    /// </summary>
    public static SslClientAuthenticationOptions Pinned(string pin, Action<string?>? mismatch = null)
    {
        if (!IsFingerprint(pin)) throw new ArgumentException($"'{pin}' is not a sha256:HEX fingerprint", nameof(pin));
        return new SslClientAuthenticationOptions
        {
            RemoteCertificateValidationCallback = (_, certificate, _, _) =>
            {
                var presented = Presented(certificate);
                if (presented == pin) return true;
                mismatch?.Invoke(presented);
                return false;
            },
        };
    }

    private static string? Presented(X509Certificate? certificate)
    {
        if (certificate is null) return null;
        if (certificate is X509Certificate2 full) return Fingerprint(full);
        using var loaded = X509CertificateLoader.LoadCertificate(certificate.GetRawCertData());
        return Fingerprint(loaded);
    }

    private static string Escape(string subject) => new([.. subject.Where(c => char.IsLetterOrDigit(c) || c is '-' or '_' or '.')]);
}
