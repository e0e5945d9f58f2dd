using System.Security.Cryptography;

namespace InfraMind.Signing;

/// <summary>
/// The curves InfraMind signs with. P-256 is the default (what sigstore/cosign and most HSMs use); secp256k1 is the
/// deployer key for the on-chain registry: <c>ecrecover</c> checks it on every EVM chain, where a P-256 precompile
/// exists on few. Both sign DSSE envelopes the same way (ECDSA over SHA-256, DER signatures).
/// </summary>
public enum KeyType
{
    P256,
    Secp256k1,
}

public static class KeyTypes
{
    public const string P256Name = "p256";
    public const string Secp256k1Name = "secp256k1";

    internal const string P256Oid = "1.2.840.10045.3.1.7";
    internal const string Secp256k1Oid = "1.3.132.0.10";

    /// <summary>The name users type (<c>--type p256|secp256k1</c>) and <c>keys list --json</c> prints.</summary>
    public static string ToName(this KeyType type) => type == KeyType.Secp256k1 ? Secp256k1Name : P256Name;

    /// <summary>Parses <c>p256</c> (also <c>p-256</c>, <c>nistp256</c>) or <c>secp256k1</c>, case-insensitively.</summary>
    public static KeyType Parse(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        return name.Trim().ToUpperInvariant() switch
        {
            "P256" or "P-256" or "NISTP256" => KeyType.P256,
            "SECP256K1" => KeyType.Secp256k1,
            _ => throw new SigningException(SigningErrorCodes.UnsupportedKeyType, $"unknown key type '{name}': use {P256Name} (the default) or {Secp256k1Name} (the on-chain registry's deployer key)."),
        };
    }

    internal static ECCurve Curve(this KeyType type) =>
        type == KeyType.Secp256k1 ? ECCurve.CreateFromValue(Secp256k1Oid) : ECCurve.NamedCurves.nistP256;

    /// <summary>The key type of a loaded key, or null for any other curve.</summary>
    internal static KeyType? Of(ECDsa ecdsa)
    {
        var curve = ecdsa.ExportParameters(false).Curve;
        return curve.IsNamed ? FromOid(curve.Oid.Value) : null;
    }

    internal static KeyType? FromOid(string? oid) => oid switch
    {
        P256Oid => KeyType.P256,
        Secp256k1Oid => KeyType.Secp256k1,
        _ => null,
    };
}
