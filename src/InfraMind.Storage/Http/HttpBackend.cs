using System.Net.Http.Headers;
using InfraMind.Oci;
using InfraMind.Storage.Registry;

namespace InfraMind.Storage.Http;

/// <summary>
/// Stores an image as its layout tar on any static HTTP(S) server that takes PUT (nginx's dav module, a CDN origin,
/// an object store). The reference records the file's sha256 in its fragment, so a pull trusts no server: the file
/// is downloaded, checked against that digest, and only then extracted (every blob verified again) into the store.
/// </summary>
internal sealed class HttpBackend(PeerOptions options) : IContentBackend
{
    public bool CanHandle(ContentReference reference) => reference is HttpReference;

    public async Task<PushResult> PushAsync(ImageArchive image, ContentReference target, IProgress<TransferProgress>? progress, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(image);
        var http = target as HttpReference ?? throw new ArgumentException("not an http reference", nameof(target));
        // A destination ending in '/' is a directory: the file is named by the container hash, so pushes never collide.
        var url = http.Url.AbsolutePath.EndsWith('/') ? new Uri(http.Url, image.ManifestDigest.Hex + ".tar") : http.Url;
        // The PUT declares its size and the reference names the file's digest (object stores and CDN origins want a
        // Content-Length; a pull trusts nothing else), so the deterministic tar is written twice and stored nowhere:
        // once into its digest, then straight into the request, checked again as it is sent. Before, it was written
        // whole to a temp file first (the image's size on disk again, in memory where /tmp is a tmpfs).
        using var sink = new DigestSink();
        await image.WriteTarAsync(sink, cancellationToken).ConfigureAwait(false);
        var (digest, size) = sink.Finish();
        using var client = options.CreateClient();
        var body = new TarUploadContent(image, digest, size, url.AbsolutePath, progress);
        body.Headers.ContentType = new MediaTypeHeaderValue("application/x-tar");
        using var request = new HttpRequestMessage(HttpMethod.Put, url) { Content = body };
        try
        {
            using var response = await PeerHttp.SendAsync(client, request, $"uploading {url}", options.Policy, cancellationToken).ConfigureAwait(false);
            await PeerHttp.EnsureSuccessAsync(response, $"uploading {url}", cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (Changed(e) is { } changed)
        {
            throw new OciException(changed.Code, $"uploading {url}: {changed.Message}. The image's blobs in the local store changed between the two " +
                "writes of its tar, and no reference was made for this upload", changed, "pull the image into the store again (or rebuild it), then push again");
        }

        if (!body.Sent)
        {
            // A server that answers 2xx before it took the whole body holds less than the reference would name.
            throw new StorageException(StorageErrorCodes.PeerRejected, $"uploading {url}: the server answered before it received the whole tar ({size} bytes) and may hold a " +
                "partial file; no reference was made for this upload",
                hint: "push again, or to a server that reads a PUT's whole body before it answers");
        }

        return new PushResult(new HttpReference(url, digest), image.ManifestDigest, size);
    }

    /// <summary>The mismatch of a tar written differently the second time, however deep the HTTP stack wrapped it.</summary>
    private static OciException? Changed(Exception e)
    {
        for (Exception? x = e; x is not null; x = x.InnerException)
        {
            if (x is OciException { Code: var code } o && (code == OciErrorCodes.DigestMismatch || code == OciErrorCodes.SizeMismatch)) return o;
        }

        return null;
    }

    public async Task<ImageArchive> PullAsync(ContentReference reference, LocalContentStore store, IProgress<TransferProgress>? progress, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(store);
        var http = reference as HttpReference ?? throw new ArgumentException("not an http reference", nameof(reference));
        var expected = http.Digest ?? throw new StorageException(StorageErrorCodes.InvalidReference, $"{http} has no #sha256=; it cannot be verified.");
        using var staging = store.BeginStaging();
        string download = Path.Combine(staging.Directory, "download.tar");
        using var client = options.CreateClient();
        using (var request = new HttpRequestMessage(HttpMethod.Get, http.Url))
        using (var response = await PeerHttp.SendAsync(client, request, $"downloading {http.Url}", options.Policy, cancellationToken).ConfigureAwait(false))
        {
            await PeerHttp.EnsureSuccessAsync(response, $"downloading {http.Url}", cancellationToken).ConfigureAwait(false);
            long? length = response.Content.Headers.ContentLength;
            long cap = options.Policy.MaxImageBytes ?? long.MaxValue;
            if (length > cap)
            {
                throw CappedWriteStream.TooLarge($"file {http.Url}", cap, length);
            }

            var body = PeerHttp.Body(await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false), http.Url, options.StallTimeout);
            // Without a known size the digest alone judges; with one, a short body is named as truncation.
            var verifying = new DigestVerifyingStream(body, expected, null, $"file {http.Url}");
            await using (verifying.ConfigureAwait(false))
            {
                var file = new FileStream(download, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16, FileOptions.Asynchronous);
                await using (file.ConfigureAwait(false))
                {
                    // Counted while it streams too: a body without Content-Length (chunked) is stopped at the cap.
                    var target = new CappedWriteStream(file, cap, $"file {http.Url}");
                    long got = await Transfer.CopyAsync(verifying, target, http.Url.AbsolutePath, length, progress, cancellationToken).ConfigureAwait(false);
                    if (length is long l && got != l)
                    {
                        throw new StorageException(StorageErrorCodes.PeerUnavailable, $"{http.Url} announced {l} bytes but sent {got}; the transfer is incomplete",
                            hint: "retry; if it repeats, the server or the network between is failing");
                    }
                }
            }
        }

        // A layout tar, or a plain docker save archive someone put on a server: both are accepted.
        return await store.ImportArchiveFileAsync(download, cancellationToken).ConfigureAwait(false);
    }
}
