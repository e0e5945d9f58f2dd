using System.Net;
using System.Net.Sockets;

namespace InfraMind.Storage;

/// <summary>
/// Turns what HTTP peers do wrong (refuse, stall, hang up mid-body, answer 4xx/5xx) into <see cref="StorageException"/>s
/// that name the peer and say what to do, so a user never sees a socket stack trace.
/// </summary>
internal static class PeerHttp
{
    /// <summary>
    /// Sends <paramref name="request"/> and follows redirects of GET and HEAD itself, as <paramref name="policy"/> says:
    /// at most <see cref="FetchPolicy.MaxRedirects"/> hops, one to another origin refused (IM4213) unless the policy allows
    /// it, and then sent without the Authorization header. Other methods get the 3xx answer as it is.
    /// </summary>
    public static async Task<HttpResponseMessage> SendAsync(HttpClient client, HttpRequestMessage request, string what, FetchPolicy policy, CancellationToken cancellationToken)
    {
        var response = await SendOnceAsync(client, request, what, cancellationToken).ConfigureAwait(false);
        var origin = request.RequestUri!;
        for (int hops = 0; IsRedirect(response) && (request.Method == HttpMethod.Get || request.Method == HttpMethod.Head); hops++)
        {
            var current = request.RequestUri!;
            var location = response.Headers.Location;
            response.Dispose();
            if (location is null)
            {
                throw new StorageException(StorageErrorCodes.PeerRejected, $"{Peer(current)} answered a redirect without a Location while {what}",
                    hint: "the server is misconfigured: ask its operator, or name the content's final location");
            }

            var next = location.IsAbsoluteUri ? location : new Uri(current, location);
            bool sameOrigin = SameOrigin(origin, next);
            if (!sameOrigin && !policy.CrossOriginRedirects)
            {
                throw new StorageException(StorageErrorCodes.RedirectRefused,
                    $"{Peer(current)} redirected to {Peer(next)} while {what}; content fetched on a publisher's behalf is only taken from the host the reference names.");
            }

            if (hops >= policy.MaxRedirects || next.Scheme is not ("http" or "https"))
            {
                throw new StorageException(StorageErrorCodes.PeerRejected, $"{Peer(origin)} redirected more than {policy.MaxRedirects} times, or to a non-HTTP location, while {what}",
                    hint: "name the content's final location in the reference");
            }

            var again = new HttpRequestMessage(request.Method, next);
            foreach (var header in request.Headers.Where(h => h.Key != "Authorization" || sameOrigin))
            {
                again.Headers.TryAddWithoutValidation(header.Key, header.Value);
            }

            request = again;
            response = await SendOnceAsync(client, request, what, cancellationToken).ConfigureAwait(false);
        }

        return response;
    }

    private static bool IsRedirect(HttpResponseMessage response) =>
        response.StatusCode is HttpStatusCode.MovedPermanently or HttpStatusCode.Found or HttpStatusCode.SeeOther
            or HttpStatusCode.TemporaryRedirect or HttpStatusCode.PermanentRedirect;

    /// <summary>Same scheme, host and port.</summary>
    public static bool SameOrigin(Uri a, Uri b) =>
        a.Scheme == b.Scheme && string.Equals(a.IdnHost, b.IdnHost, StringComparison.OrdinalIgnoreCase) && a.Port == b.Port;

    private static async Task<HttpResponseMessage> SendOnceAsync(HttpClient client, HttpRequestMessage request, string what, CancellationToken cancellationToken)
    {
        try
        {
            return await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken).ConfigureAwait(false);
        }
        catch (HttpRequestException e) when (e.InnerException is StorageException refused)
        {
            throw new StorageException(refused.Code, refused.Message + $" ({what})", e);
        }
        catch (HttpRequestException e)
        {
            throw Unreachable(request.RequestUri!, what, e);
        }
        catch (TaskCanceledException e) when (!cancellationToken.IsCancellationRequested)
        {
            throw new StorageException(StorageErrorCodes.PeerUnavailable,
                $"{Peer(request.RequestUri!)} did not answer within {client.Timeout.TotalSeconds:0.#} s while {what}", e, "check that it is up and not overloaded, then retry");
        }
    }

    public static StorageException Unreachable(Uri uri, string what, Exception e)
    {
        string reason = NetworkFailure.Describe(e);
        return new StorageException(StorageErrorCodes.PeerUnavailable,
            $"{Peer(uri)} could not be reached while {what} ({reason})", e, "check the address and that the server runs, then retry");
    }

    /// <summary>
    /// Throws for any status but success. A peer's body is never repeated to the caller — it may hold whatever the
    /// peer knows (a local service's configuration, a token) and, on a registry, the caller may be a stranger who named
    /// that peer. Only the error codes of an OCI distribution error document (<c>{"errors":[{"code":"MANIFEST_UNKNOWN"}]}</c>),
    /// which are upper-case identifiers from a fixed list, are shown.
    /// </summary>
    public static async Task EnsureSuccessAsync(HttpResponseMessage response, string what, CancellationToken cancellationToken)
    {
        if (response.IsSuccessStatusCode)
        {
            return;
        }

        var uri = response.RequestMessage?.RequestUri;
        var peerCodes = await DistributionErrorCodesAsync(response, cancellationToken).ConfigureAwait(false);
        string codes = string.Join(", ", peerCodes);
        string status = $"{(int)response.StatusCode} {response.ReasonPhrase}";
        string where = uri is null ? "the peer" : $"{uri.GetLeftPart(UriPartial.Path)}";
        string detail = codes.Length > 0 ? $" ({codes})" : "";
        throw response.StatusCode switch
        {
            HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden => new StorageException(StorageErrorCodes.AuthenticationFailed,
                $"{where} answered {status}{detail} while {what}",
                hint: "give credentials with INFRAMIND_REGISTRY_USERNAME and INFRAMIND_REGISTRY_PASSWORD, or check them") { PeerCodes = peerCodes, PeerStatus = (int)response.StatusCode },
            HttpStatusCode.NotFound => new StorageException(StorageErrorCodes.NotFound,
                $"{where} answered {status}{detail} while {what}: it does not have that content") { PeerCodes = peerCodes, PeerStatus = (int)response.StatusCode },
            _ => new StorageException(StorageErrorCodes.PeerRejected,
                $"{where} answered {status}{detail} while {what}",
                hint: (int)response.StatusCode >= 500 ? "the server failed: retry later, or ask its operator" : "the server refused the request: check the destination and its configuration") { PeerCodes = peerCodes, PeerStatus = (int)response.StatusCode },
        };
    }

    /// <summary>The <c>errors[].code</c> values of a distribution error document (at most 16 KiB of it read, at most 4 codes), else none.</summary>
    private static async Task<IReadOnlyList<string>> DistributionErrorCodesAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        try
        {
            var body = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
            await using (body.ConfigureAwait(false))
            {
                var buffer = new byte[16 << 10];
                int n = await body.ReadAtLeastAsync(buffer, buffer.Length, throwOnEndOfStream: false, cancellationToken).ConfigureAwait(false);
                using var doc = System.Text.Json.JsonDocument.Parse(buffer.AsMemory(0, n));
                if (doc.RootElement.ValueKind != System.Text.Json.JsonValueKind.Object
                    || !doc.RootElement.TryGetProperty("errors", out var errors) || errors.ValueKind != System.Text.Json.JsonValueKind.Array)
                {
                    return [];
                }

                return errors.EnumerateArray()
                    .Select(e => e.ValueKind == System.Text.Json.JsonValueKind.Object && e.TryGetProperty("code", out var c) && c.ValueKind == System.Text.Json.JsonValueKind.String ? c.GetString()! : "")
                    .Where(IsErrorCode).Distinct().Take(4).ToList();
            }
        }
        catch (Exception e) when (e is System.Text.Json.JsonException or HttpRequestException or IOException or OperationCanceledException && !cancellationToken.IsCancellationRequested)
        {
            return [];
        }
    }

    private static bool IsErrorCode(string code) =>
        code.Length is > 0 and <= 40 && code.All(ch => ch is (>= 'A' and <= 'Z') or (>= '0' and <= '9') or '_');

    public static string Peer(Uri uri) => $"{uri.Scheme}://{uri.Authority}";

    /// <summary>A body of <paramref name="source"/> that fails with IM4203 when it stalls or breaks off; it owns <paramref name="response"/> when given.</summary>
    public static PeerBodyStream Body(Stream body, Uri source, TimeSpan stallTimeout, HttpResponseMessage? response = null) =>
        new(body, source.GetLeftPart(UriPartial.Path), stallTimeout, Faults) { Owner = response };

    /// <summary>A registry or HTTP server that stalls or hangs up mid-body: IM4203, the peer is unavailable.</summary>
    public static IBodyFaults Faults { get; } = new PeerFaults();

    private sealed class PeerFaults : IBodyFaults
    {
        public Exception Stalled(string description, Exception cause) =>
            new StorageException(StorageErrorCodes.PeerUnavailable, $"{description}; the server stalled", cause, "retry, or use another source");

        public Exception? BrokeOff(string description, Exception cause) =>
            new StorageException(StorageErrorCodes.PeerUnavailable, $"{description}; the transfer is incomplete", cause, "retry; if it repeats, the server or the network between is failing");
    }
}

/// <summary>Settings shared by the HTTP-speaking backends.</summary>
public sealed record PeerOptions
{
    /// <summary>How long to wait for response headers.</summary>
    public TimeSpan RequestTimeout { get; init; } = TimeSpan.FromSeconds(100);

    /// <summary>How long a body may go without a byte before the transfer fails.</summary>
    public TimeSpan StallTimeout { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>Registry credentials (basic, or exchanged for a bearer token); none by default.</summary>
    public RegistryCredentials? Credentials { get; init; }

    /// <summary>
    /// Where credentials for a registry come from when <see cref="Credentials"/> are not for it (docker's config.json
    /// and credential helpers, <see cref="DockerCredentialStore"/>); asked only when a registry challenges, and only
    /// for a registry spoken to over https or on loopback.
    /// </summary>
    public IRegistryCredentialSource? CredentialSource { get; init; }

    /// <summary>Blobs larger than this are uploaded in PATCH chunks of <see cref="ChunkSize"/>; smaller ones in one PUT.</summary>
    public long ChunkedUploadThreshold { get; init; } = 256L << 20;

    public int ChunkSize { get; init; } = 64 << 20;

    /// <summary>A repository on the same registry to mount blobs from instead of uploading them, when the registry offers it.</summary>
    public string? MountFrom { get; init; }

    /// <summary>The IPFS node's RPC API for pulls of ipfs:// references and pushes to plain <c>ipfs</c>.</summary>
    public Uri IpfsApi { get; init; } = new("http://127.0.0.1:5001");

    /// <summary>What fetches may do: destinations, redirects, bytes, host-local references (<see cref="FetchPolicy"/>).</summary>
    public FetchPolicy Policy { get; init; } = FetchPolicy.Unrestricted;

    /// <summary>
    /// The one HTTP client of the registry and HTTP backends: redirects are never followed by the handler (PeerHttp
    /// follows them under <see cref="Policy"/>), no proxy from the environment, and every connection goes through
    /// <see cref="FetchPolicy.ConnectAsync"/>, which resolves the name once and connects to an address it permits.
    /// </summary>
    internal HttpClient CreateClient()
    {
        var handler = new SocketsHttpHandler
        {
            AllowAutoRedirect = false,
            UseProxy = false,
            ConnectTimeout = TimeSpan.FromSeconds(15),
            AutomaticDecompression = DecompressionMethods.None,
            ConnectCallback = Policy.ConnectAsync,
        };
        return new HttpClient(handler) { Timeout = RequestTimeout };
    }
}

/// <summary>
/// A user name and password (or token) for the registries named in <see cref="Registries"/> (host, or host:port when
/// the port is not the scheme's default): they go to no other host or port, and off loopback only over https.
/// </summary>
public sealed record RegistryCredentials(string UserName, string Password, IReadOnlyList<string> Registries)
{
    /// <summary>Whether these credentials may be sent to <paramref name="target"/>.</summary>
    public bool AppliesTo(Uri target)
    {
        ArgumentNullException.ThrowIfNull(target);
        return IsSecure(target) && Registries.Any(r => string.Equals(r, Authority(target), StringComparison.OrdinalIgnoreCase));
    }

    /// <summary>Where credentials may go at all: https, or plain http on loopback.</summary>
    public static bool IsSecure(Uri target)
    {
        ArgumentNullException.ThrowIfNull(target);
        return target.Scheme == Uri.UriSchemeHttps || target.IsLoopback;
    }

    /// <summary>Where they came from (a docker config.json, a credential helper), for messages; null: the environment.</summary>
    public string? Source { get; init; }

    /// <summary>host, or host:port when the port is not the scheme's default (the form docker keys credentials by).</summary>
    public static string Authority(Uri uri)
    {
        ArgumentNullException.ThrowIfNull(uri);
        return uri.IsDefaultPort ? uri.IdnHost : $"{uri.IdnHost}:{uri.Port}";
    }

    public override string ToString() => $"{UserName}:*** for {string.Join(", ", Registries)}";
}
