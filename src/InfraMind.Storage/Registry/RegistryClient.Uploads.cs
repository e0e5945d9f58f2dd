using System.Net;
using System.Net.Http.Headers;
using InfraMind.Oci;

namespace InfraMind.Storage.Registry;

/// <summary>Blob uploads (monolithic, chunked, mounted from another repository) and manifest puts.</summary>
internal sealed partial class RegistryClient
{
    /// <summary>How long the DELETE that abandons a failed upload may take (it delays the failure's report by at most this).</summary>
    public static readonly TimeSpan AbandonTimeout = TimeSpan.FromSeconds(2);

    // docker-registry's filesystem driver answers 500 to a HEAD of a blob whose repository link another client's
    // upload of the same blob is rewriting at that moment; a HEAD may be asked again.
    public Task<bool> BlobExistsAsync(Digest digest, CancellationToken cancellationToken) =>
        RetryRaceAsync(() => BlobExistsOnceAsync(digest, cancellationToken), e => e.PeerStatus >= 500, cancellationToken);

    /// <summary>
    /// How often a request docker-registry refuses because another client writes the same blob at that moment is made
    /// again (<see cref="BlobExistsAsync"/>, <see cref="PutManifestWithSubjectAsync"/>).
    /// </summary>
    public const int MaxRaceAttempts = 4;

    /// <summary>The wait before attempt <paramref name="attempt"/> + 1 of a request another client's write raced: 20–80 ms times the attempts so far.</summary>
    internal static Task RaceBackoffAsync(int attempt, CancellationToken cancellationToken) =>
        Task.Delay(TimeSpan.FromMilliseconds(Random.Shared.Next(20, 80) * attempt), cancellationToken);

    /// <summary><paramref name="once"/>, made again while it fails with what <paramref name="raced"/> takes for a race, <see cref="MaxRaceAttempts"/> times at most.</summary>
    private static async Task<T> RetryRaceAsync<T>(Func<Task<T>> once, Func<StorageException, bool> raced, CancellationToken cancellationToken)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                return await once().ConfigureAwait(false);
            }
            catch (StorageException e) when (raced(e) && attempt < MaxRaceAttempts)
            {
                await RaceBackoffAsync(attempt, cancellationToken).ConfigureAwait(false);
            }
        }
    }

    private async Task<bool> BlobExistsOnceAsync(Digest digest, CancellationToken cancellationToken)
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
        try
        {
            var body = new ProgressContent(content, blob.Size, blob.Digest.Value, progress);
            using var response = await SendAsync(HttpMethod.Put, WithDigest(location, blob.Digest), body, $"uploading blob {blob.Digest}", cancellationToken).ConfigureAwait(false);
            await PeerHttp.EnsureSuccessAsync(response, $"uploading blob {blob.Digest}", cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is StorageException or OperationCanceledException or HttpRequestException or IOException)
        {
            await AbandonUploadAsync(location).ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>Uploads the blob in PATCH chunks, then closes the upload with a PUT carrying the digest.</summary>
    public async Task UploadChunkedAsync(Uri location, Descriptor blob, Stream content, int chunkSize, IProgress<TransferProgress>? progress, CancellationToken cancellationToken)
    {
        byte[] buffer = new byte[chunkSize];
        long offset = 0;
        try
        {
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
                // Each answer names the location to go on with (its state says how much the registry holds).
                location = UploadLocation(response, blob.Digest);
                offset += n;
                progress?.Report(new TransferProgress(blob.Digest.Value, offset, blob.Size, false));
            }

            using var close = await SendAsync(HttpMethod.Put, WithDigest(location, blob.Digest), null, $"closing the upload of blob {blob.Digest}", cancellationToken).ConfigureAwait(false);
            await PeerHttp.EnsureSuccessAsync(close, $"closing the upload of blob {blob.Digest}", cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is StorageException or OperationCanceledException or HttpRequestException or IOException)
        {
            await AbandonUploadAsync(location).ConfigureAwait(false);
            throw;
        }

        progress?.Report(new TransferProgress(blob.Digest.Value, offset, blob.Size, true));
    }

    /// <summary>
    /// Abandons an upload that failed or was cancelled (Ctrl-C, a refused chunk): DELETE of its location, as the
    /// distribution spec provides, so the registry does not keep the partial blob until its own purge (distribution:
    /// a week). Best effort and bounded by <see cref="AbandonTimeout"/>: a registry that is gone or stalls keeps it.
    /// </summary>
    private async Task AbandonUploadAsync(Uri location)
    {
        using var bound = new CancellationTokenSource(AbandonTimeout);
        try
        {
            using var response = await SendAsync(HttpMethod.Delete, location, null, "abandoning an upload", bound.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (e is StorageException or OperationCanceledException or HttpRequestException or IOException)
        {
            // The upload stays on the registry until it purges it; the transfer's own failure is what the caller reports.
        }
    }

    /// <summary>PUTs a manifest under a tag (or its digest); returns the digest the registry says it stored.</summary>
    public async Task<Digest?> PutManifestAsync(string reference, string mediaType, byte[] manifest, CancellationToken cancellationToken) =>
        (await PutManifestWithSubjectAsync(reference, mediaType, manifest, cancellationToken).ConfigureAwait(false)).Stored;

    // Every caller has put (or found) the manifest's blobs just before. docker-registry's filesystem driver rewrites a
    // repository's blob link in place when another client uploads the same blob at that moment (the empty config every
    // referrer shares, a common base layer), and a manifest checked against the half-written link is refused as naming
    // an unknown blob: a moment later it is accepted. A blob that is really missing is still refused, after MaxRaceAttempts.
    /// <summary>
    /// PUTs a manifest; <c>SubjectIndexed</c> is whether the registry answered with an <c>OCI-Subject</c> header, which
    /// OCI 1.1 registries send when they index the manifest's subject in their referrers API themselves.
    /// </summary>
    public Task<(Digest? Stored, bool SubjectIndexed)> PutManifestWithSubjectAsync(string reference, string mediaType, byte[] manifest, CancellationToken cancellationToken) =>
        RetryRaceAsync(() => PutManifestOnceAsync(reference, mediaType, manifest, cancellationToken), e => e.PeerCodes.Contains("MANIFEST_BLOB_UNKNOWN"), cancellationToken);

    private async Task<(Digest? Stored, bool SubjectIndexed)> PutManifestOnceAsync(string reference, string mediaType, byte[] manifest, CancellationToken cancellationToken)
    {
        var body = new ByteArrayContent(manifest);
        body.Headers.ContentType = new MediaTypeHeaderValue(mediaType);
        using var response = await SendAsync(HttpMethod.Put, $"v2/{Repo}/manifests/{reference}", body, $"putting the manifest {reference}", cancellationToken).ConfigureAwait(false);
        await PeerHttp.EnsureSuccessAsync(response, $"putting the manifest {reference}", cancellationToken).ConfigureAwait(false);
        Digest? stored = response.Headers.TryGetValues("Docker-Content-Digest", out var values) && Digest.TryParse(values.FirstOrDefault(), out var d) ? d : null;
        return (stored, response.Headers.Contains("OCI-Subject"));
    }

    private Uri UploadLocation(HttpResponseMessage response, Digest digest)
    {
        var location = response.Headers.Location
            ?? throw new StorageException(StorageErrorCodes.PeerRejected, $"{PeerHttp.Peer(_base)} started the upload of {digest} but sent no Location; it does not follow the distribution spec",
                hint: "use a registry that follows the OCI distribution spec");
        return location.IsAbsoluteUri ? location : new Uri(_base, location);
    }

    private static Uri WithDigest(Uri location, Digest digest)
    {
        var builder = new UriBuilder(location);
        string digestQuery = "digest=" + Uri.EscapeDataString(digest.Value);
        builder.Query = string.IsNullOrEmpty(builder.Query) || builder.Query == "?" ? digestQuery : builder.Query.TrimStart('?') + "&" + digestQuery;
        return builder.Uri;
    }
}
