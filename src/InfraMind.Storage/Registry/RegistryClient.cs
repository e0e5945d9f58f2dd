using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using InfraMind.Oci;

namespace InfraMind.Storage.Registry;

/// <summary>
/// The OCI distribution API operations InfraMind uses, against one repository: blob existence, monolithic and chunked
/// upload, cross-repository mount, manifest put/get, blob get. Authentication follows the registry's challenge
/// (Basic, or Bearer with a token from the realm), but credentials go only where <see cref="RegistryCredentials.AppliesTo"/>
/// allows: the registry they are for, over https off loopback. A realm on another host or port gets none (docker keys
/// credentials by host[:port] too, then sends them to whatever realm the registry names; InfraMind does not, since the
/// registry's answer is not the user's word).
/// </summary>
internal sealed class RegistryClient : IDisposable
{
    private const long MaxManifestSize = ArchiveLimits.MaxManifestBytes;

    /// <summary>A token answer is a small JSON document (a JWT of a few KiB); more is not read.</summary>
    private const int MaxTokenAnswerBytes = 1 << 20;
    private readonly HttpClient _http;
    private readonly PeerOptions _options;
    private readonly Uri _base;
    private AuthenticationHeaderValue? _authorization;

    public RegistryClient(OciReference reference, PeerOptions options)
    {
        Reference = reference;
        _options = options;
        _base = reference.BaseUri;
        _http = options.CreateClient();
    }

    public OciReference Reference { get; }

    private string Repo => Reference.Repository;

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
                    $"{PeerHttp.Peer(_base)} asks for a user name and password (Basic realm \"{basic.Realm}\"). Set INFRAMIND_REGISTRY_USERNAME and INFRAMIND_REGISTRY_PASSWORD, " +
                    $"or log in with `docker login {RegistryCredentials.Authority(_base)}` (InfraMind reads docker's config.json and credential helpers).");
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
                $"{PeerHttp.Peer(_base)} answered 401 with no challenge InfraMind understands ({string.Join("; ", ping.Headers.WwwAuthenticate)}); only Basic and Bearer are supported.");
        }

        using var again = await SendAsync(HttpMethod.Get, "v2/", null, "checking the registry credentials", cancellationToken).ConfigureAwait(false);
        if (again.StatusCode is HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden && credentials?.Source is { } source)
        {
            throw new StorageException(StorageErrorCodes.AuthenticationFailed,
                $"{PeerHttp.Peer(_base)} refused the credentials of {credentials.UserName} from {source} ({(int)again.StatusCode}). Log in again, or set INFRAMIND_REGISTRY_USERNAME and INFRAMIND_REGISTRY_PASSWORD, which take precedence.");
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
                $"{PeerHttp.Peer(_base)} has no /v2/ API, so it is not an OCI distribution registry. Check the host and port.");
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

        if (!Uri.TryCreate(realm + query, UriKind.Absolute, out var tokenUri))
        {
            throw new StorageException(StorageErrorCodes.AuthenticationFailed, $"{PeerHttp.Peer(_base)} names token realm '{realm}', which is not a URL.");
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
            answer = await ReadBoundedAsync(stream, MaxTokenAnswerBytes, $"the token answer of {tokenUri.GetLeftPart(UriPartial.Path)}", cancellationToken).ConfigureAwait(false);
        }

        using var doc = ParseTokenAnswer(answer, tokenUri);
        foreach (string field in new[] { "token", "access_token" })
        {
            if (doc.RootElement.TryGetProperty(field, out var t) && t.ValueKind == JsonValueKind.String && t.GetString() is { Length: > 0 } token)
            {
                return token;
            }
        }

        throw new StorageException(StorageErrorCodes.AuthenticationFailed, $"the token service {tokenUri.GetLeftPart(UriPartial.Path)} answered without a token.");
    }

    private static JsonDocument ParseTokenAnswer(byte[] answer, Uri tokenUri)
    {
        try
        {
            return JsonDocument.Parse(answer);
        }
        catch (JsonException e)
        {
            throw new StorageException(StorageErrorCodes.AuthenticationFailed, $"the token service {tokenUri.GetLeftPart(UriPartial.Path)} answered something that is not JSON.", e);
        }
    }

    /// <summary>Reads at most <paramref name="max"/> bytes: one more is IM4214 and the rest is never read.</summary>
    private static async Task<byte[]> ReadBoundedAsync(Stream body, int max, string what, CancellationToken cancellationToken)
    {
        var buffer = new byte[Math.Min(max + 1, 1 << 16)];
        using var collected = new MemoryStream();
        int n;
        while ((n = await body.ReadAsync(buffer, cancellationToken).ConfigureAwait(false)) > 0)
        {
            if (collected.Length + n > max)
            {
                throw CappedWriteStream.TooLarge(what, max);
            }

            collected.Write(buffer, 0, n);
        }

        return collected.ToArray();
    }

    private static AuthenticationHeaderValue BasicHeader(RegistryCredentials credentials) =>
        new("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes($"{credentials.UserName}:{credentials.Password}")));

    public async Task<bool> BlobExistsAsync(Digest digest, CancellationToken cancellationToken)
    {
        using var response = await SendAsync(HttpMethod.Head, $"v2/{Repo}/blobs/{digest}", null, $"checking blob {digest}", cancellationToken).ConfigureAwait(false);
        if (response.StatusCode == HttpStatusCode.NotFound)
        {
            return false;
        }

        await PeerHttp.EnsureSuccessAsync(response, $"checking blob {digest}", cancellationToken).ConfigureAwait(false);
        return true;
    }

    /// <summary>Starts an upload, or mounts the blob from <paramref name="mountFrom"/>; returns null when mounted.</summary>
    public async Task<Uri?> StartUploadAsync(Digest digest, string? mountFrom, CancellationToken cancellationToken)
    {
        string path = mountFrom is null
            ? $"v2/{Repo}/blobs/uploads/"
            : $"v2/{Repo}/blobs/uploads/?mount={Uri.EscapeDataString(digest.Value)}&from={Uri.EscapeDataString(mountFrom)}";
        using var response = await SendAsync(HttpMethod.Post, path, null, $"starting the upload of {digest}", cancellationToken).ConfigureAwait(false);
        if (mountFrom is not null && response.StatusCode == HttpStatusCode.Created)
        {
            return null;
        }

        await PeerHttp.EnsureSuccessAsync(response, $"starting the upload of {digest}", cancellationToken).ConfigureAwait(false);
        return UploadLocation(response, digest);
    }

    /// <summary>Uploads the whole blob in one PUT.</summary>
    public async Task UploadMonolithicAsync(Uri location, Descriptor blob, Stream content, IProgress<TransferProgress>? progress, CancellationToken cancellationToken)
    {
        var body = new ProgressContent(content, blob.Size, blob.Digest.Value, progress);
        using var response = await SendAsync(HttpMethod.Put, WithDigest(location, blob.Digest), body, $"uploading blob {blob.Digest}", cancellationToken).ConfigureAwait(false);
        await PeerHttp.EnsureSuccessAsync(response, $"uploading blob {blob.Digest}", cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Uploads the blob in PATCH chunks, then closes the upload with a PUT carrying the digest.</summary>
    public async Task UploadChunkedAsync(Uri location, Descriptor blob, Stream content, int chunkSize, IProgress<TransferProgress>? progress, CancellationToken cancellationToken)
    {
        byte[] buffer = new byte[chunkSize];
        long offset = 0;
        while (true)
        {
            int n = await content.ReadAtLeastAsync(buffer, buffer.Length, throwOnEndOfStream: false, cancellationToken).ConfigureAwait(false);
            if (n == 0)
            {
                break;
            }

            var chunk = new ByteArrayContent(buffer, 0, n);
            chunk.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
            chunk.Headers.TryAddWithoutValidation("Content-Range", $"{offset}-{offset + n - 1}");
            using var response = await SendAsync(HttpMethod.Patch, location, chunk, $"uploading a chunk of blob {blob.Digest}", cancellationToken).ConfigureAwait(false);
            await PeerHttp.EnsureSuccessAsync(response, $"uploading a chunk of blob {blob.Digest}", cancellationToken).ConfigureAwait(false);
            location = UploadLocation(response, blob.Digest);
            offset += n;
            progress?.Report(new TransferProgress(blob.Digest.Value, offset, blob.Size, false));
        }

        using var close = await SendAsync(HttpMethod.Put, WithDigest(location, blob.Digest), null, $"closing the upload of blob {blob.Digest}", cancellationToken).ConfigureAwait(false);
        await PeerHttp.EnsureSuccessAsync(close, $"closing the upload of blob {blob.Digest}", cancellationToken).ConfigureAwait(false);
        progress?.Report(new TransferProgress(blob.Digest.Value, offset, blob.Size, true));
    }

    /// <summary>PUTs a manifest under a tag (or its digest); returns the digest the registry says it stored.</summary>
    public async Task<Digest?> PutManifestAsync(string reference, string mediaType, byte[] manifest, CancellationToken cancellationToken) =>
        (await PutManifestWithSubjectAsync(reference, mediaType, manifest, cancellationToken).ConfigureAwait(false)).Stored;

    /// <summary>
    /// PUTs a manifest; <c>SubjectIndexed</c> is whether the registry answered with an <c>OCI-Subject</c> header, which
    /// OCI 1.1 registries send when they index the manifest's subject in their referrers API themselves.
    /// </summary>
    public async Task<(Digest? Stored, bool SubjectIndexed)> PutManifestWithSubjectAsync(string reference, string mediaType, byte[] manifest, CancellationToken cancellationToken)
    {
        var body = new ByteArrayContent(manifest);
        body.Headers.ContentType = new MediaTypeHeaderValue(mediaType);
        using var response = await SendAsync(HttpMethod.Put, $"v2/{Repo}/manifests/{reference}", body, $"putting the manifest {reference}", cancellationToken).ConfigureAwait(false);
        await PeerHttp.EnsureSuccessAsync(response, $"putting the manifest {reference}", cancellationToken).ConfigureAwait(false);
        Digest? stored = response.Headers.TryGetValues("Docker-Content-Digest", out var values) && Digest.TryParse(values.FirstOrDefault(), out var d) ? d : null;
        return (stored, response.Headers.Contains("OCI-Subject"));
    }

    /// <summary>
    /// GETs a small JSON document of this repository (a manifest or index by tag or digest, a referrers answer), read
    /// against <paramref name="max"/> bytes: a longer one is <paramref name="tooLarge"/> and the rest is never read.
    /// Null when the registry answers 404.
    /// </summary>
    public async Task<RegistryDocument?> TryGetDocumentAsync(string path, string accept, int max, Func<StorageException> tooLarge, string what, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(_base, $"v2/{Repo}/{path}"));
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue(accept));
        using var response = await SendAsync(request, what, cancellationToken).ConfigureAwait(false);
        if (response.StatusCode == HttpStatusCode.NotFound)
        {
            return null;
        }

        await PeerHttp.EnsureSuccessAsync(response, what, cancellationToken).ConfigureAwait(false);
        var bytes = await ReadCappedAsync(response, request.RequestUri!, max, tooLarge, cancellationToken).ConfigureAwait(false);
        return new RegistryDocument(bytes, response.Content.Headers.ContentType?.MediaType, NextPage(response, request.RequestUri!));
    }

    /// <summary>The next page a paginated answer names in its <c>Link: &lt;URL&gt;; rel="next"</c> header (the distribution spec's pagination), resolved; null when none.</summary>
    private static Uri? NextPage(HttpResponseMessage response, Uri requested)
    {
        if (!response.Headers.TryGetValues("Link", out var values)) return null;
        foreach (var link in values.SelectMany(v => v.Split(',')))
        {
            var parts = link.Split(';', StringSplitOptions.TrimEntries);
            if (parts.Length >= 2 && parts[0].StartsWith('<') && parts[0].EndsWith('>') &&
                parts.Skip(1).Any(p => p.Replace(" ", "", StringComparison.Ordinal) is "rel=\"next\"" or "rel=next") &&
                Uri.TryCreate(requested, parts[0][1..^1], out var next))
            {
                return next;
            }
        }

        return null;
    }

    /// <summary>
    /// The path (under this repository's <c>/v2/NAME/</c>, query included) of a next page an answer linked to, for
    /// <see cref="TryGetDocumentAsync"/>. A page anywhere else (another scheme, host, port or repository) is not
    /// followed: IM4243.
    /// </summary>
    public string PathOf(Uri next)
    {
        ArgumentNullException.ThrowIfNull(next);
        var prefix = $"/v2/{Repo}/";
        if (Uri.Compare(next, _base, UriComponents.SchemeAndServer, UriFormat.UriEscaped, StringComparison.OrdinalIgnoreCase) != 0 ||
            !next.AbsolutePath.StartsWith(prefix, StringComparison.Ordinal))
        {
            throw new StorageException(StorageErrorCodes.ReferrerMalformed,
                $"{PeerHttp.Peer(_base)} links a next page outside {prefix} on its own host ({next}); it is not followed.");
        }

        return next.PathAndQuery[prefix.Length..];
    }

    /// <summary>Reads a small blob whole, at most <paramref name="max"/> bytes (declared or counted); the caller verifies its digest.</summary>
    public async Task<byte[]> ReadBlobAsync(Digest digest, int max, Func<StorageException> tooLarge, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(_base, $"v2/{Repo}/blobs/{digest}"));
        using var response = await SendAsync(request, $"fetching blob {digest}", cancellationToken).ConfigureAwait(false);
        await PeerHttp.EnsureSuccessAsync(response, $"fetching blob {digest}", cancellationToken).ConfigureAwait(false);
        return await ReadCappedAsync(response, request.RequestUri!, max, tooLarge, cancellationToken).ConfigureAwait(false);
    }

    private async Task<byte[]> ReadCappedAsync(HttpResponseMessage response, Uri uri, int max, Func<StorageException> tooLarge, CancellationToken cancellationToken)
    {
        if (response.Content.Headers.ContentLength > max)
        {
            throw tooLarge();
        }

        var body = PeerHttp.Body(await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false), uri, _options.StallTimeout);
        await using (body.ConfigureAwait(false))
        {
            try
            {
                return await ReadBoundedAsync(body, max, uri.GetLeftPart(UriPartial.Path), cancellationToken).ConfigureAwait(false);
            }
            catch (StorageException e) when (e.Code == StorageErrorCodes.TooLarge)
            {
                throw tooLarge();
            }
        }
    }

    /// <summary>Fetches a manifest by tag or digest; returns its bytes, media type and the registry's digest header.</summary>
    public async Task<(byte[] Bytes, string? MediaType, Digest? HeaderDigest)> GetManifestAsync(string reference, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(_base, $"v2/{Repo}/manifests/{reference}"));
        foreach (string accept in ImageManifest.Accepted)
        {
            request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue(accept));
        }

        using var response = await SendAsync(request, $"fetching manifest {Repo}:{reference}", cancellationToken).ConfigureAwait(false);
        await PeerHttp.EnsureSuccessAsync(response, $"fetching manifest {Repo}:{reference}", cancellationToken).ConfigureAwait(false);
        if (response.Content.Headers.ContentLength > MaxManifestSize)
        {
            throw new StorageException(StorageErrorCodes.UnsupportedManifest, $"the manifest {Repo}:{reference} is {response.Content.Headers.ContentLength} bytes, too large for an image manifest.");
        }

        // Read against the bound, never whole first: a chunked answer of any length costs at most the bound.
        var body = PeerHttp.Body(await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false), request.RequestUri!, _options.StallTimeout);
        await using (body.ConfigureAwait(false))
        {
            byte[] bytes;
            try
            {
                bytes = await ReadBoundedAsync(body, (int)MaxManifestSize, $"the manifest {Repo}:{reference}", cancellationToken).ConfigureAwait(false);
            }
            catch (StorageException e) when (e.Code == StorageErrorCodes.TooLarge)
            {
                throw new StorageException(StorageErrorCodes.UnsupportedManifest, $"the manifest {Repo}:{reference} is larger than {MaxManifestSize} bytes, too large for an image manifest; the rest was not read.", e);
            }

            Digest? header = response.Headers.TryGetValues("Docker-Content-Digest", out var values) && Digest.TryParse(values.FirstOrDefault(), out var d) ? d : null;
            return (bytes, response.Content.Headers.ContentType?.MediaType, header);
        }
    }

    /// <summary>Opens a blob's body; the caller verifies it (the registry is not trusted).</summary>
    public async Task<Stream> OpenBlobAsync(Digest digest, CancellationToken cancellationToken)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, new Uri(_base, $"v2/{Repo}/blobs/{digest}"));
        var response = await SendAsync(request, $"fetching blob {digest}", cancellationToken).ConfigureAwait(false);
        try
        {
            await PeerHttp.EnsureSuccessAsync(response, $"fetching blob {digest}", cancellationToken).ConfigureAwait(false);
            return PeerHttp.Body(await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false), request.RequestUri!, _options.StallTimeout, response);
        }
        catch
        {
            response.Dispose();
            throw;
        }
    }

    private Task<HttpResponseMessage> SendAsync(HttpMethod method, string path, HttpContent? content, string what, CancellationToken cancellationToken) =>
        SendAsync(method, new Uri(_base, path), content, what, cancellationToken);

    private Task<HttpResponseMessage> SendAsync(HttpMethod method, Uri uri, HttpContent? content, string what, CancellationToken cancellationToken) =>
        SendAsync(new HttpRequestMessage(method, uri) { Content = content }, what, cancellationToken);

    private Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, string what, CancellationToken cancellationToken)
    {
        request.Headers.Authorization ??= _authorization;
        return PeerHttp.SendAsync(_http, request, what, _options.Policy, cancellationToken);
    }

    private Uri UploadLocation(HttpResponseMessage response, Digest digest)
    {
        var location = response.Headers.Location
            ?? throw new StorageException(StorageErrorCodes.PeerRejected, $"{PeerHttp.Peer(_base)} started the upload of {digest} but sent no Location; it does not follow the distribution spec.");
        return location.IsAbsoluteUri ? location : new Uri(_base, location);
    }

    private static Uri WithDigest(Uri location, Digest digest)
    {
        var builder = new UriBuilder(location);
        string digestQuery = "digest=" + Uri.EscapeDataString(digest.Value);
        builder.Query = string.IsNullOrEmpty(builder.Query) || builder.Query == "?" ? digestQuery : builder.Query.TrimStart('?') + "&" + digestQuery;
        return builder.Uri;
    }

    public void Dispose() => _http.Dispose();
}

/// <summary>A small document a registry answered: its bytes, its media type, and the next page it links to when the answer is paginated (<see cref="RegistryClient.PathOf"/>).</summary>
public sealed record RegistryDocument(byte[] Bytes, string? MediaType, Uri? Next);
