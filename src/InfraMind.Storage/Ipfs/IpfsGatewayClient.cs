namespace InfraMind.Storage.Ipfs;

/// <summary>
/// Fetches content from an IPFS HTTP gateway (<c>GET /ipfs/&lt;cid&gt;[/&lt;name&gt;]</c>) and trusts none of it: the bytes
/// are imported while they stream and must give the CID asked for. A gateway is any server, so a wrong, cut or
/// stalled answer is expected and reported with a stable code (IM4102, IM4104–IM4107).
/// </summary>
internal sealed class IpfsGatewayClient : IDisposable
{
    private readonly HttpClient _http;
    private readonly bool _ownsHttp;

    /// <param name="httpClient">A client to reuse; when null one is made and disposed with this object.</param>
    public IpfsGatewayClient(HttpClient? httpClient = null)
    {
        _ownsHttp = httpClient is null;
        _http = httpClient ?? new HttpClient { Timeout = Timeout.InfiniteTimeSpan };
    }

    /// <summary>How long the gateway may take to start answering (headers).</summary>
    public TimeSpan ResponseTimeout { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>How long the gateway may send nothing in the middle of a body.</summary>
    public TimeSpan StallTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Streams <c>/ipfs/{root}[/{wrapName}]</c> into <paramref name="destination"/> and verifies it imports to
    /// <paramref name="root"/> with the settings <c>ipfs add</c> would have used for that CID version (v0: kubo's
    /// defaults; v1: <c>--cid-version 1</c>), wrapped in a directory with the entry <paramref name="wrapName"/> when
    /// given. Throws <see cref="CidMismatchException"/> (IM4102) naming both CIDs otherwise; the destination has then
    /// received unverified bytes and must be discarded (see <see cref="FetchToFileAsync"/>).
    /// </summary>
    public Task<UnixFsResult> FetchAsync(Uri gateway, Cid root, string? wrapName, Stream destination, CancellationToken cancellationToken) =>
        FetchAsync(gateway, root, VerifiedDownload.InferOptions(root, wrapName), destination, cancellationToken);

    /// <summary>As above, with the import settings recorded with the CID (chunk size, raw leaves, wrap name).</summary>
    public async Task<UnixFsResult> FetchAsync(Uri gateway, Cid root, UnixFsOptions options, Stream destination, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(gateway);
        ArgumentNullException.ThrowIfNull(root);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(destination);
        var url = ContentUrl(gateway, root, options.WrapName);
        string where = $"gateway {url}";
        try
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, url);
            using var answered = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            answered.CancelAfter(ResponseTimeout);
            using var response = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, answered.Token).ConfigureAwait(false);
            // Headers are in: from here on only the stall timeout applies, however long a large body takes.
            answered.CancelAfter(Timeout.InfiniteTimeSpan);
            await VerifiedDownload.ThrowIfErrorAsync(response, where, StallTimeout, cancellationToken).ConfigureAwait(false);
            await using var body = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
            return await VerifiedDownload.CopyAsync(body, root, options, destination, StallTimeout, where, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (VerifiedDownload.Translate(e, where, "Start the gateway or use another one.", cancellationToken) is { } translated)
        {
            throw translated;
        }
    }

    /// <summary>
    /// Fetches into a temporary file beside <paramref name="path"/> and moves it to <paramref name="path"/> only when
    /// the content verified; on any failure nothing is left behind.
    /// </summary>
    public Task<UnixFsResult> FetchToFileAsync(Uri gateway, Cid root, UnixFsOptions options, string path, CancellationToken cancellationToken) =>
        VerifiedFile.WriteAsync(path, destination => FetchAsync(gateway, root, options, destination, cancellationToken), cancellationToken);

    /// <summary><c>{gateway}/ipfs/{cid}</c> or <c>{gateway}/ipfs/{cid}/{name}</c> (the name escaped).</summary>
    public static Uri ContentUrl(Uri gateway, Cid root, string? name)
    {
        ArgumentNullException.ThrowIfNull(gateway);
        ArgumentNullException.ThrowIfNull(root);
        string baseUrl = gateway.ToString().TrimEnd('/');
        return new Uri($"{baseUrl}/ipfs/{root}{(name is null ? "" : "/" + Uri.EscapeDataString(name))}");
    }

    public void Dispose()
    {
        if (_ownsHttp)
        {
            _http.Dispose();
        }
    }
}

/// <summary>Writes a file only once its content verified: temp file beside it, then an atomic move.</summary>
internal static class VerifiedFile
{
    public static async Task<UnixFsResult> WriteAsync(string path, Func<Stream, Task<UnixFsResult>> fill, CancellationToken cancellationToken)
    {
        string full = Path.GetFullPath(path);
        Directory.CreateDirectory(Path.GetDirectoryName(full)!);
        string temp = $"{full}.partial-{Guid.NewGuid():N}";
        try
        {
            UnixFsResult result;
            var file = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16, useAsync: true);
            await using (file.ConfigureAwait(false))
            {
                result = await fill(file).ConfigureAwait(false);
                await file.FlushAsync(cancellationToken).ConfigureAwait(false);
            }

            File.Move(temp, full, overwrite: true);
            return result;
        }
        finally
        {
            File.Delete(temp);
        }
    }
}
