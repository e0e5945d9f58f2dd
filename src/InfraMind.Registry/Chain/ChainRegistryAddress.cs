using System.Diagnostics.CodeAnalysis;
using System.Globalization;

namespace InfraMind.Registry.Chain;

/// <summary>
/// Where an on-chain registry lives: <c>eth://HOST:PORT/0xCONTRACT[?chainId=N]</c> (JSON-RPC over HTTP) or
/// <c>eths://…</c> (over HTTPS). The chain id, when given, must be the node's; the node's is always read and checked.
/// </summary>
public sealed record ChainRegistryAddress(Uri Rpc, string Contract, long? ChainId)
{
    public const string Scheme = "eth";
    public const string TlsScheme = "eths";

    /// <summary>True when <paramref name="registry"/> names a chain registry (an eth:// or eths:// URL), valid or not.</summary>
    public static bool IsChainUrl(string? registry) =>
        registry is not null && (registry.StartsWith(Scheme + "://", StringComparison.OrdinalIgnoreCase) || registry.StartsWith(TlsScheme + "://", StringComparison.OrdinalIgnoreCase));

    /// <summary>Parses an eth:// URL; anything malformed is <see cref="ChainErrorCodes.InvalidUrl"/> saying what.</summary>
    public static ChainRegistryAddress Parse(string url)
    {
        ArgumentNullException.ThrowIfNull(url);
        return TryParse(url, out var address, out var error) ? address : throw new ChainException(ChainErrorCodes.InvalidUrl, $"'{url}' is not a chain registry URL: {error}.");
    }

    public static bool TryParse(string url, [NotNullWhen(true)] out ChainRegistryAddress? address, [NotNullWhen(false)] out string? error)
    {
        address = null;
        if (!IsChainUrl(url) || !Uri.TryCreate(url, UriKind.Absolute, out var uri))
        {
            error = "expected eth://HOST:PORT/0xCONTRACT";
            return false;
        }

        if (uri.IsDefaultPort || uri.Port <= 0)
        {
            error = "the node's port is missing (eth://HOST:PORT/…)";
            return false;
        }

        if (!string.IsNullOrEmpty(uri.UserInfo) || !string.IsNullOrEmpty(uri.Fragment))
        {
            error = "user info and fragments are not allowed";
            return false;
        }

        var contract = uri.AbsolutePath.Trim('/');
        if (!IsAddress(contract))
        {
            error = contract.Length == 0 ? "the contract address is missing (…/0x followed by 40 hex digits)" : $"'{contract}' is not a contract address (0x followed by 40 hex digits)";
            return false;
        }

        long? chainId = null;
        foreach (var pair in uri.Query.TrimStart('?').Split('&', StringSplitOptions.RemoveEmptyEntries))
        {
            var eq = pair.IndexOf('=', StringComparison.Ordinal);
            var (key, value) = eq < 0 ? (pair, "") : (pair[..eq], pair[(eq + 1)..]);
            if (key != "chainId")
            {
                error = $"unknown parameter '{key}' (only chainId is known)";
                return false;
            }

            if (!long.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var id) || id <= 0)
            {
                error = $"chainId '{value}' is not a positive decimal number";
                return false;
            }

            chainId = id;
        }

        var http = new UriBuilder(uri) { Scheme = uri.Scheme.Equals(TlsScheme, StringComparison.OrdinalIgnoreCase) ? "https" : "http", Path = "/", Query = "" }.Uri;
        address = new ChainRegistryAddress(http, "0x" + contract[2..].ToLowerInvariant(), chainId);
        error = null;
        return true;
    }

    /// <summary>The URL form users pass as <c>--registry</c>; the chain id is written when known.</summary>
    public override string ToString()
    {
        var scheme = Rpc.Scheme == Uri.UriSchemeHttps ? TlsScheme : Scheme;
        var query = ChainId is { } id ? string.Create(CultureInfo.InvariantCulture, $"?chainId={id}") : string.Empty;
        return string.Create(CultureInfo.InvariantCulture, $"{scheme}://{Rpc.Host}:{Rpc.Port}/{Contract}{query}");
    }

    /// <summary>True for an account or contract address: 0x followed by 40 hex digits (any case).</summary>
    public static bool IsAddress(string text) =>
        text.Length == 42 && text.StartsWith("0x", StringComparison.OrdinalIgnoreCase) && ChainHex.IsHex(text.AsSpan(2));
}

internal static class ChainHex
{
    private static readonly System.Buffers.SearchValues<char> Digits = System.Buffers.SearchValues.Create("0123456789abcdefABCDEF");
    private static readonly System.Buffers.SearchValues<char> LowerDigits = System.Buffers.SearchValues.Create("0123456789abcdef");

    public static bool IsHex(ReadOnlySpan<char> text) => !text.ContainsAnyExcept(Digits);

    public static bool IsLowerHex(ReadOnlySpan<char> text) => !text.ContainsAnyExcept(LowerDigits);
}
