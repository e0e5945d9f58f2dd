using System.Net;
using System.Net.Http.Headers;
using InfraMind.Oci;

namespace InfraMind.Storage.Registry;

/// <summary>
/// The OCI distribution API operations InfraMind uses, against one repository: blob existence, monolithic and chunked
/// upload, cross-repository mount, manifest put/get, blob get. Authentication follows the registry's challenge
/// (Basic, or Bearer with a token from the realm), but credentials go only where <see cref="RegistryCredentials.AppliesTo"/>
/// allows: the registry they are for, over https off loopback. A realm on another host or port gets none (docker keys
/// credentials by host[:port] too, then sends them to whatever realm the registry names; InfraMind does not, since the
/// registry's answer is not the user's word). Authentication is in RegistryClient.Auth.cs, uploads and manifest puts in
/// RegistryClient.Uploads.cs, reads here.
/// </summary>
internal sealed partial class RegistryClient : IDisposable
{
    private const long MaxManifestSize = ArchiveLimits.MaxManifestBytes;

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
                return await BoundedBody.ReadAsync(body, null, max, cancellationToken).ConfigureAwait(false)
                    ?? throw CappedWriteStream.TooLarge(uri.GetLeftPart(UriPartial.Path), max);
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
            throw new StorageException(StorageErrorCodes.UnsupportedManifest, $"the manifest {Repo}:{reference} is {response.Content.Headers.ContentLength} bytes, too large for an image manifest",
                hint: "check the reference: it names something other than an image manifest");
        }

        // Read against the bound, never whole first: a chunked answer of any length costs at most the bound.
        var body = PeerHttp.Body(await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false), request.RequestUri!, _options.StallTimeout);
        await using (body.ConfigureAwait(false))
        {
            byte[] bytes;
            try
            {
                bytes = await BoundedBody.ReadAsync(body, null, MaxManifestSize, cancellationToken).ConfigureAwait(false)
                    ?? throw CappedWriteStream.TooLarge($"the manifest {Repo}:{reference}", MaxManifestSize);
            }
            catch (StorageException e) when (e.Code == StorageErrorCodes.TooLarge)
            {
                throw new StorageException(StorageErrorCodes.UnsupportedManifest, $"the manifest {Repo}:{reference} is larger than {MaxManifestSize} bytes, too large for an image manifest; the rest was not read", e,
                    "check the reference: it names something other than an image manifest");
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

    public void Dispose() => _http.Dispose();
}

/// <summary>A small document a registry answered: its bytes, its media type, and the next page it links to when the answer is paginated (<see cref="RegistryClient.PathOf"/>).</summary>
internal sealed record RegistryDocument(byte[] Bytes, string? MediaType, Uri? Next);
