using System.Diagnostics.CodeAnalysis;
using System.Security.Cryptography;

namespace InfraMind.Oci;

/// <summary>
/// An OCI content digest, <c>sha256:</c> followed by 64 lower-case hex digits. Only sha256 is accepted: it is what
/// every engine and registry here produces, and refusing the rest keeps "same content, same name" true.
/// </summary>
public readonly record struct Digest
{
    public const string Sha256Prefix = "sha256:";
    private const int HexLength = 64;

    private Digest(string value) => Value = value;

    /// <summary>The full form, e.g. <c>sha256:e3b0…</c>.</summary>
    public string Value { get; }

    /// <summary>The 64 hex digits without the algorithm.</summary>
    public string Hex => Value[Sha256Prefix.Length..];

    public static Digest Parse(string value)
    {
        if (TryParse(value, out var digest, out var error))
        {
            return digest;
        }

        throw new OciException(OciErrorCodes.InvalidDigest, error);
    }

    public static bool TryParse([NotNullWhen(true)] string? value, out Digest digest) => TryParse(value, out digest, out _);

    private static bool TryParse(string? value, out Digest digest, out string error)
    {
        digest = default;
        if (string.IsNullOrEmpty(value))
        {
            error = "a digest is empty; write it as sha256:<64 hex digits>.";
            return false;
        }

        int colon = value.IndexOf(':', StringComparison.Ordinal);
        if (colon < 0)
        {
            error = $"{TerminalText.Quote(value, 80)} is not a digest: it has no algorithm; write it as sha256:<64 hex digits>.";
            return false;
        }

        if (!value.AsSpan(0, colon).SequenceEqual("sha256"))
        {
            error = $"{TerminalText.Quote(value, 80)} uses algorithm {TerminalText.Quote(value[..colon], 80)}; only sha256 is supported.";
            return false;
        }

        var hex = value.AsSpan(colon + 1);
        if (hex.Length != HexLength)
        {
            error = $"{TerminalText.Quote(value, 80)} has {hex.Length} hex digits after 'sha256:'; a sha256 digest has exactly 64.";
            return false;
        }

        foreach (char c in hex)
        {
            if (!char.IsAsciiHexDigitLower(c) && !char.IsAsciiDigit(c))
            {
                error = $"{TerminalText.Quote(value, 80)} contains {TerminalText.Quote(c.ToString(), 1)}; a digest uses lower-case hex digits only (0-9, a-f).";
                return false;
            }
        }

        digest = new Digest(value);
        error = string.Empty;
        return true;
    }

    /// <summary>Builds a digest from 64 hex digits (a blob file name, for example).</summary>
    public static Digest FromHex(string hex) => Parse(Sha256Prefix + hex);

    public static Digest FromHash(ReadOnlySpan<byte> sha256)
    {
        if (sha256.Length != SHA256.HashSizeInBytes)
        {
            throw new ArgumentException("a sha256 hash has 32 bytes", nameof(sha256));
        }

        return new Digest(Sha256Prefix + Convert.ToHexStringLower(sha256));
    }

    public static Digest Compute(ReadOnlySpan<byte> content)
    {
        Span<byte> hash = stackalloc byte[SHA256.HashSizeInBytes];
        SHA256.HashData(content, hash);
        return FromHash(hash);
    }

    /// <summary>Hashes a stream to its end in one pass; returns the digest and the number of bytes read.</summary>
    public static async Task<(Digest Digest, long Size)> ComputeAsync(Stream content, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(content);
        using var sink = new DigestSink();
        await content.CopyToAsync(sink, 1 << 20, cancellationToken).ConfigureAwait(false);
        return sink.Finish();
    }

    public override string ToString() => Value ?? string.Empty;
}
