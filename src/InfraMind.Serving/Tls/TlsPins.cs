namespace InfraMind.Serving.Tls;

/// <summary>
/// A peer's URL with its TLS pin, as operators write it: <c>https://HOST:PORT/#sha256:HEX</c> (the fingerprint a serving
/// command's <c>--json</c> prints as tlsFingerprint). The one parser of that form for every client of a mesh member —
/// a node's <c>--gateway</c>, <c>--registry</c>, <c>infra mesh status --gateway</c> — and the one HTTP handler that takes
/// only the pinned key and names the other key when a peer presents one (IM6046).
/// </summary>
public static class TlsPins
{
    /// <summary>The URL without its fragment, and the pin the fragment holds (null without one).</summary>
    /// <exception cref="FormatException">A fragment that is not a pin, or a pin on a URL that is not https.</exception>
    public static (Uri Url, string? Pin) Split(Uri url) =>
        TrySplit(url, out var bare, out var pin, out var error) ? (bare, pin) : throw new FormatException(error);

    /// <summary><see cref="Split"/> without the exception: false with <paramref name="error"/> saying what is wrong.</summary>
    public static bool TrySplit(Uri url, out Uri bare, out string? pin, [System.Diagnostics.CodeAnalysis.NotNullWhen(false)] out string? error)
    {
        ArgumentNullException.ThrowIfNull(url);
        (bare, pin, error) = (url, null, null);
        if (!url.IsAbsoluteUri || url.Fragment is not { Length: > 1 } fragment) return true;
        if (url.Scheme != Uri.UriSchemeHttps || !MeshTls.IsFingerprint(fragment[1..]))
        {
            error = $"'{url}': a pin follows an https URL as #sha256:HEX (64 lower-case hex digits, the tlsFingerprint the server's --json prints)";
            return false;
        }

        (bare, pin) = (new UriBuilder(url) { Fragment = "" }.Uri, fragment[1..]);
        return true;
    }

    /// <summary>The URL carrying <paramref name="pin"/> as its fragment (the URL itself when there is none).</summary>
    public static Uri With(Uri url, string? pin) => pin is null ? url : new UriBuilder(url) { Fragment = pin }.Uri;

    /// <summary>
    /// The handler a client of a pinned peer sends through: <paramref name="inner"/> taking only the certificate whose key
    /// is <paramref name="pin"/>, and a refusal of any other as IM6046 naming <paramref name="peer"/>, the key presented
    /// and the pin. Without a pin, <paramref name="inner"/> as it is (an https peer is then checked against the system's CAs).
    /// </summary>
    public static HttpMessageHandler Handler(SocketsHttpHandler inner, string? pin, string peer, string hint)
    {
        ArgumentNullException.ThrowIfNull(inner);
        if (pin is null) return inner;
        var mismatch = new PinMismatch();
        inner.SslOptions = MeshTls.Pinned(pin, presented => mismatch.Presented = presented ?? "no certificate");
        return new Refusing(inner, pin, peer, hint, mismatch);
    }

    private sealed class PinMismatch
    {
        public volatile string? Presented;
    }

    private sealed class Refusing(HttpMessageHandler inner, string pin, string peer, string hint, PinMismatch mismatch) : DelegatingHandler(inner)
    {
        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            mismatch.Presented = null;
            try
            {
                return await base.SendAsync(request, cancellationToken).ConfigureAwait(false);
            }
            catch (HttpRequestException e) when (mismatch.Presented is { } presented)
            {
                throw new InfraMindException(MeshErrorCodes.TlsPinMismatch,
                    $"{peer} at {request.RequestUri?.GetLeftPart(UriPartial.Authority)} presented the TLS key {presented}, not the pinned {pin}", hint, e);
            }
        }
    }
}
