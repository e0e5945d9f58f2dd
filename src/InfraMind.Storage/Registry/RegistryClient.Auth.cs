using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace InfraMind.Storage.Registry;

/// <summary>The registry's challenge answered: Basic, or a Bearer token from its realm, with credentials only where they apply.</summary>
internal sealed partial class RegistryClient
{
    /// <summary>
    /// RFC 6750's b64token, the only form a Bearer credential may take. The token comes from a service the registry
    /// names and goes into an Authorization header: anything else (a new line, a space, a non-ASCII character) is
    /// refused here as the service's fault, where .NET would otherwise throw a format error, or call the registry
    /// unreachable, while sending it.
    /// </summary>
    [GeneratedRegex("^[A-Za-z0-9._~+/-]+=*$")]
    private static partial Regex B64Token();

    /// <summary>A token answer is a small JSON document (a JWT of a few KiB); more is not read.</summary>
    private const int MaxTokenAnswerBytes = 1 << 20;

    /// <summary>What a user can do about a token service that answers wrongly: it is the registry's to fix.</summary>
    private const string TokenServiceHint = "the registry's token service is misconfigured: ask its operator";

    /// <summary>
    /// Calls <c>GET /v2/</c>; answers a 401 challenge (Basic, or a Bearer token for <paramref name="actions"/> on
    /// this repository) so that later requests, uploads included, go out authorised the first time.
    /// </summary>
    public async Task AuthenticateAsync(string actions, CancellationToken cancellationToken)
    {
        using var ping = await SendAsync(HttpMethod.Get, "v2/", null, "checking the registry API", cancellationToken).ConfigureAwait(false);
        if (ping.StatusCode != HttpStatusCode.Unauthorized)
        {
            await CheckApiAsync(ping, cancellationToken).ConfigureAwait(false);
            return;
        }

        var challenges = ping.Headers.WwwAuthenticate.Select(h => h.ToString()).SelectMany(AuthChallenge.Parse).ToList();
        var credentials = await CredentialsAsync(cancellationToken).ConfigureAwait(false);
        var bearer = challenges.FirstOrDefault(c => c.Scheme.Equals("Bearer", StringComparison.OrdinalIgnoreCase));
        var basic = challenges.FirstOrDefault(c => c.Scheme.Equals("Basic", StringComparison.OrdinalIgnoreCase));
        if (bearer?.Realm is { } realm)
        {
            _authorization = new AuthenticationHeaderValue("Bearer", await FetchTokenAsync(realm, bearer.Service, $"repository:{Repo}:{actions}", credentials, cancellationToken).ConfigureAwait(false));
        }
        else if (basic is not null)
        {
            if (credentials is null)
            {
                throw new StorageException(StorageErrorCodes.AuthenticationFailed,
                    $"{PeerHttp.Peer(_base)} asks for a user name and password (Basic realm \"{basic.Realm}\")", hint:
                    $"set INFRAMIND_REGISTRY_USERNAME and INFRAMIND_REGISTRY_PASSWORD, or log in with `docker login {RegistryCredentials.Authority(_base)}` (InfraMind reads docker's config.json and credential helpers)");
            }

            if (!credentials.AppliesTo(_base))
            {
                throw new StorageException(StorageErrorCodes.CredentialsWithheld,
                    $"{PeerHttp.Peer(_base)} asks for a user name and password, but the credentials are for {string.Join(", ", credentials.Registries)}" +
                    (RegistryCredentials.IsSecure(_base) ? "" : " and it is plain http off loopback") + "; they were not sent.");
            }

            _authorization = BasicHeader(credentials);
        }
        else
        {
            throw new StorageException(StorageErrorCodes.AuthenticationFailed,
                $"{PeerHttp.Peer(_base)} answered 401 with no challenge InfraMind understands ({string.Join("; ", ping.Headers.WwwAuthenticate)})",
                hint: "InfraMind speaks Basic and Bearer authentication only: use a registry that asks for one of them");
        }

        using var again = await SendAsync(HttpMethod.Get, "v2/", null, "checking the registry credentials", cancellationToken).ConfigureAwait(false);
        if (again.StatusCode is HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden && credentials?.Source is { } source)
        {
            throw new StorageException(StorageErrorCodes.AuthenticationFailed,
                $"{PeerHttp.Peer(_base)} refused the credentials of {credentials.UserName} from {source} ({(int)again.StatusCode})",
                hint: "log in again, or set INFRAMIND_REGISTRY_USERNAME and INFRAMIND_REGISTRY_PASSWORD, which take precedence");
        }

        await PeerHttp.EnsureSuccessAsync(again, "checking the registry credentials", cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// The credentials for this registry: the given ones when they are for it (the environment's override), else what
    /// the credential source (docker's configuration) holds for it, asked only for https or loopback; else the given
    /// ones, which the caller then reports as withheld.
    /// </summary>
    private async Task<RegistryCredentials?> CredentialsAsync(CancellationToken cancellationToken)
    {
        if (_options.Credentials is { } given && given.AppliesTo(_base))
        {
            return given;
        }

        if (_options.CredentialSource is { } source && RegistryCredentials.IsSecure(_base)
            && await source.GetAsync(RegistryCredentials.Authority(_base), cancellationToken).ConfigureAwait(false) is { } found)
        {
            return found;
        }

        return _options.Credentials;
    }

    private async Task CheckApiAsync(HttpResponseMessage ping, CancellationToken cancellationToken)
    {
        if (ping.StatusCode == HttpStatusCode.NotFound)
        {
            throw new StorageException(StorageErrorCodes.PeerRejected,
                $"{PeerHttp.Peer(_base)} has no /v2/ API, so it is not an OCI distribution registry",
                hint: "check the host and port: they must name an OCI distribution registry");
        }

        await PeerHttp.EnsureSuccessAsync(ping, "checking the registry API", cancellationToken).ConfigureAwait(false);
    }

    private async Task<string> FetchTokenAsync(string realm, string? service, string scope, RegistryCredentials? credentials, CancellationToken cancellationToken)
    {
        var query = new StringBuilder("?scope=").Append(Uri.EscapeDataString(scope));
        if (service is not null)
        {
            query.Append("&service=").Append(Uri.EscapeDataString(service));
        }

        // The realm is the registry's word, not the user's: one that is not an http(s) URL (file:, ftp:) is refused
        // here with a code, where HttpClient would throw NotSupportedException (an internal error, IM0001).
        if (!Uri.TryCreate(realm + query, UriKind.Absolute, out var tokenUri) || tokenUri.Scheme is not ("http" or "https"))
        {
            throw new StorageException(StorageErrorCodes.AuthenticationFailed,
                $"{PeerHttp.Peer(_base)} names token realm {TerminalText.Quote(realm, 200)}, which is not an http(s) URL; no token was asked for",
                hint: TokenServiceHint);
        }

        using var request = new HttpRequestMessage(HttpMethod.Get, tokenUri);
        bool withheld = credentials is not null && !credentials.AppliesTo(tokenUri);
        if (credentials is not null && !withheld)
        {
            request.Headers.Authorization = BasicHeader(credentials);
        }

        using var response = await PeerHttp.SendAsync(_http, request, "fetching a registry token", _options.Policy, cancellationToken).ConfigureAwait(false);
        if (withheld && response.StatusCode is HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden)
        {
            throw new StorageException(StorageErrorCodes.CredentialsWithheld,
                $"{PeerHttp.Peer(_base)} names the token service {PeerHttp.Peer(tokenUri)}, which is not the registry the credentials are for " +
                $"({string.Join(", ", credentials!.Registries)}), or is plain http off loopback; they were not sent, and it refused to answer without them.");
        }

        await PeerHttp.EnsureSuccessAsync(response, "fetching a registry token", cancellationToken).ConfigureAwait(false);
        byte[] answer;
        var stream = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
        await using (stream.ConfigureAwait(false))
        {
            answer = await BoundedBody.ReadAsync(stream, null, MaxTokenAnswerBytes, cancellationToken).ConfigureAwait(false)
                ?? throw CappedWriteStream.TooLarge($"the token answer of {tokenUri.GetLeftPart(UriPartial.Path)}", MaxTokenAnswerBytes);
        }

        using var doc = ParseTokenAnswer(answer, tokenUri);
        foreach (string field in new[] { "token", "access_token" })
        {
            if (doc.RootElement.TryGetProperty(field, out var t) && t.ValueKind == JsonValueKind.String && t.GetString() is { Length: > 0 } token)
            {
                return B64Token().IsMatch(token)
                    ? token
                    : throw new StorageException(StorageErrorCodes.AuthenticationFailed,
                        $"the token service {tokenUri.GetLeftPart(UriPartial.Path)} answered a \"{field}\" that is not a Bearer token (RFC 6750: letters, digits and -._~+/ then '='; it holds a space, a control or a non-ASCII character); it was not sent",
                        hint: TokenServiceHint);
            }
        }

        throw new StorageException(StorageErrorCodes.AuthenticationFailed, $"the token service {tokenUri.GetLeftPart(UriPartial.Path)} answered without a token", hint: TokenServiceHint);
    }

    private static JsonDocument ParseTokenAnswer(byte[] answer, Uri tokenUri)
    {
        try
        {
            return JsonDocument.Parse(answer);
        }
        catch (JsonException e)
        {
            throw new StorageException(StorageErrorCodes.AuthenticationFailed, $"the token service {tokenUri.GetLeftPart(UriPartial.Path)} answered something that is not JSON", e, TokenServiceHint);
        }
    }

    private static AuthenticationHeaderValue BasicHeader(RegistryCredentials credentials) =>
        new("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes($"{credentials.UserName}:{credentials.Password}")));
}
