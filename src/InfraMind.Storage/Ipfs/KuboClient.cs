using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;

namespace InfraMind.Storage.Ipfs;

/// <summary>What <c>/api/v0/version</c> says about a node.</summary>
internal sealed record KuboVersion(string Version, string? Commit, string? Repo, string? System);

/// <summary>
/// A client of the Kubo RPC API (<c>/api/v0/…</c>; kubo, and js-ipfs which speaks the same API). Nothing the node says
/// is trusted: <see cref="AddAsync"/> imports the file locally in the same pass and compares, and
/// <see cref="FetchAsync(Cid, UnixFsOptions, Stream, CancellationToken)"/> verifies what it streams.
/// </summary>
internal sealed class KuboClient : IDisposable
{
    private const string StartHint =
        "Start a node (kubo: `ipfs daemon`; js-ipfs: `jsipfs daemon`) or point InfraMind at its API address (Addresses.API, " +
        "by default http://127.0.0.1:5001).";

    private readonly HttpClient _http;
    private readonly bool _ownsHttp;
    private readonly Uri _api;

    /// <param name="api">The node's RPC address, e.g. <c>http://127.0.0.1:5001</c> (the <c>/api/v0</c> prefix is added).</param>
    /// <param name="httpClient">A client to reuse; when null one is made and disposed with this object.</param>
    public KuboClient(Uri api, HttpClient? httpClient = null)
    {
        ArgumentNullException.ThrowIfNull(api);
        _api = new Uri(api.ToString().TrimEnd('/') + "/api/v0/");
        _ownsHttp = httpClient is null;
        _http = httpClient ?? new HttpClient { Timeout = Timeout.InfiniteTimeSpan };
    }

    /// <summary>How long the node may take to start answering (headers), and for <c>add</c> to answer once all bytes are sent.</summary>
    public TimeSpan ResponseTimeout { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>How long the node may send nothing in the middle of a body.</summary>
    public TimeSpan StallTimeout { get; init; } = TimeSpan.FromSeconds(30);

    public Uri ApiAddress => _api;

    public async Task<KuboVersion> VersionAsync(CancellationToken cancellationToken)
    {
        var where = Where("version");
        try
        {
            using var response = await PostAsync("version", content: null, cancellationToken).ConfigureAwait(false);
            await VerifiedDownload.ThrowIfErrorAsync(response, where, StallTimeout, cancellationToken).ConfigureAwait(false);
            string text = await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);
            using var doc = ParseJson(text, where);
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("Version", out var version) || version.ValueKind != JsonValueKind.String)
            {
                throw new IpfsException(IpfsErrorCodes.BadAnswer, $"{where} answered without a Version: {Excerpt(text)}");
            }

            return new KuboVersion(version.GetString()!, OptionalString(root, "Commit"), OptionalString(root, "Repo"), OptionalString(root, "System"));
        }
        catch (Exception e) when (VerifiedDownload.Translate(e, where, StartHint, cancellationToken) is { } translated)
        {
            throw translated;
        }
    }

    /// <summary>
    /// Adds <paramref name="file"/> as <c>ipfs add</c> with <paramref name="options"/> would (pinned), reading it once:
    /// the bytes go to the node and through the local importer together. Returns the local result once the node's
    /// root CID equals it; otherwise throws IM4108 naming both. <paramref name="name"/> is the entry name when
    /// <see cref="UnixFsOptions.WrapName"/> is null (then it only labels the upload); <paramref name="bytes"/>
    /// reports bytes read so far.
    /// </summary>
    public async Task<UnixFsResult> AddAsync(Stream file, string name, UnixFsOptions options, IProgress<long>? bytes, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(file);
        ArgumentException.ThrowIfNullOrEmpty(name);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        if (options.MaxLinks != UnixFsOptions.DefaultMaxLinks)
        {
            throw new IpfsException(IpfsErrorCodes.InvalidOptions, $"the Kubo RPC API cannot import with {options.MaxLinks} links per node (it always uses {UnixFsOptions.DefaultMaxLinks}).");
        }

        var query = new StringBuilder("add?pin=true&progress=false&stream-channels=true");
        query.Append(CultureInfo.InvariantCulture, $"&cid-version={options.CidVersion}");
        query.Append(CultureInfo.InvariantCulture, $"&raw-leaves={(options.EffectiveRawLeaves ? "true" : "false")}");
        query.Append(CultureInfo.InvariantCulture, $"&chunker=size-{options.ChunkSize}");
        if (options.CidVersion == 1)
        {
            // Kubo prints CIDv1 in base32, js-ipfs in base58btc unless asked: one spelling makes answers comparable as text.
            query.Append("&cid-base=base32");
        }

        if (options.WrapName is not null)
        {
            query.Append("&wrap-with-directory=true");
        }

        var where = Where("add");
        using var content = new ImportingMultipartContent(file, options.WrapName ?? name, options, bytes, StallTimeout, $"the file being added ({name})");
        try
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(_api, query.ToString())) { Content = content };
            using var response = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken).ConfigureAwait(false);
            await VerifiedDownload.ThrowIfErrorAsync(response, where, StallTimeout, cancellationToken).ConfigureAwait(false);
            var entries = await ReadAddAnswerAsync(response, where, cancellationToken).ConfigureAwait(false);
            var local = content.Result
                ?? throw new IpfsException(IpfsErrorCodes.BadAnswer, $"{where} answered before it received the whole file");
            if (entries.Count == 0)
            {
                throw new IpfsException(IpfsErrorCodes.BadAnswer, $"{where} answered without any CID{TrailerError(response)}");
            }

            var nodeRoot = entries[^1];
            if (nodeRoot != local.Root)
            {
                throw new IpfsException(
                    IpfsErrorCodes.NodeCidDisagrees,
                    $"the node at {_api} stored the content as {nodeRoot} but InfraMind computes {local.Root} for `{options.ToCommandLine()}`. " +
                    "The node imports with other settings than asked, or is not kubo-compatible.");
            }

            return local;
        }
        catch (Exception e) when (VerifiedDownload.Translate(e, where, StartHint, cancellationToken) is { } translated)
        {
            throw translated;
        }
    }

    /// <summary>
    /// <c>/api/v0/cat</c> of <paramref name="cid"/> (or of <paramref name="path"/> under it) as a stream, unverified:
    /// for callers that verify themselves. Each read must bring a byte within <see cref="StallTimeout"/> (IM4107).
    /// Dispose the stream to end the request.
    /// </summary>
    public Task<Stream> CatAsync(Cid cid, string? path, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(cid);
        return OpenCatAsync(cid, path, Where("cat"), StallTimeout, cancellationToken);
    }

    private async Task<Stream> OpenCatAsync(Cid cid, string? path, string where, TimeSpan stallTimeout, CancellationToken cancellationToken)
    {
        try
        {
            var response = await PostAsync(CatQuery(cid, path), content: null, cancellationToken).ConfigureAwait(false);
            try
            {
                await VerifiedDownload.ThrowIfErrorAsync(response, where, StallTimeout, cancellationToken).ConfigureAwait(false);
                var body = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
                return new PeerBodyStream(body, where, stallTimeout, VerifiedDownload.Faults) { Owner = response };
            }
            catch
            {
                response.Dispose();
                throw;
            }
        }
        catch (Exception e) when (VerifiedDownload.Translate(e, where, StartHint, cancellationToken) is { } translated)
        {
            throw translated;
        }
    }

    /// <summary>
    /// Streams <paramref name="root"/> (its entry <see cref="UnixFsOptions.WrapName"/> when set) through
    /// <c>/api/v0/cat</c> into <paramref name="destination"/> and verifies it imports to <paramref name="root"/> with
    /// <paramref name="options"/>; IM4102 otherwise, and the destination must then be discarded.
    /// </summary>
    public async Task<UnixFsResult> FetchAsync(Cid root, UnixFsOptions options, Stream destination, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(root);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(destination);
        var where = Where("cat") + $" ({root}{(options.WrapName is null ? "" : "/" + options.WrapName)})";
        try
        {
            // The copy below times each read; the body itself needs no second timer.
            await using var body = await OpenCatAsync(root, options.WrapName, Where("cat"), Timeout.InfiniteTimeSpan, cancellationToken).ConfigureAwait(false);
            return await VerifiedDownload.CopyAsync(body, root, options, destination, StallTimeout, where, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (VerifiedDownload.Translate(e, where, StartHint, cancellationToken) is { } translated)
        {
            throw translated;
        }
    }

    /// <summary>As <see cref="FetchAsync(Cid, UnixFsOptions, Stream, CancellationToken)"/> with the settings <c>ipfs add</c> uses for the CID's version.</summary>
    public Task<UnixFsResult> FetchAsync(Cid root, string? wrapName, Stream destination, CancellationToken cancellationToken) =>
        FetchAsync(root, VerifiedDownload.InferOptions(root, wrapName), destination, cancellationToken);

    /// <summary>Fetches into a temporary file and moves it to <paramref name="path"/> only once verified.</summary>
    public Task<UnixFsResult> FetchToFileAsync(Cid root, UnixFsOptions options, string path, CancellationToken cancellationToken) =>
        VerifiedFile.WriteAsync(path, destination => FetchAsync(root, options, destination, cancellationToken), cancellationToken);

    public void Dispose()
    {
        if (_ownsHttp)
        {
            _http.Dispose();
        }
    }

    private static string CatQuery(Cid cid, string? path) =>
        "cat?arg=" + Uri.EscapeDataString(path is null ? $"/ipfs/{cid}" : $"/ipfs/{cid}/{path}");

    private string Where(string command) => $"the IPFS node's API at {_api}{command}";

    private async Task<HttpResponseMessage> PostAsync(string relative, HttpContent? content, CancellationToken cancellationToken)
    {
        using var answered = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        answered.CancelAfter(ResponseTimeout);
        // Kubo's RPC takes POST only (GET is 405), as a guard against cross-site requests from browsers.
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(_api, relative)) { Content = content };
        return await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, answered.Token).ConfigureAwait(false);
    }

    private async Task<List<Cid>> ReadAddAnswerAsync(HttpResponseMessage response, string where, CancellationToken cancellationToken)
    {
        await using var body = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
        using var reader = new StreamReader(new PeerBodyStream(body, where, ResponseTimeout, VerifiedDownload.Faults, leaveOpen: true), Encoding.UTF8);
        var roots = new List<Cid>();
        while (await reader.ReadLineAsync(cancellationToken).ConfigureAwait(false) is { } line)
        {
            if (line.Length == 0)
            {
                continue;
            }

            using var doc = ParseJson(line, where);
            var entry = doc.RootElement;
            if (entry.ValueKind != JsonValueKind.Object)
            {
                throw new IpfsException(IpfsErrorCodes.BadAnswer, $"{where} answered {Excerpt(line)}, not an object per line.");
            }

            if (OptionalString(entry, "Type") == "error" || (entry.TryGetProperty("Message", out _) && !entry.TryGetProperty("Hash", out _)))
            {
                throw new IpfsException(IpfsErrorCodes.HttpError, $"{where} failed: {OptionalString(entry, "Message") ?? Excerpt(line)}");
            }

            // Progress lines carry Bytes and no Hash.
            if (OptionalString(entry, "Hash") is { } hash)
            {
                if (!Cid.TryParse(hash, out var cid))
                {
                    throw new IpfsException(IpfsErrorCodes.BadAnswer, $"{where} answered a malformed CID '{Excerpt(hash)}'.");
                }

                roots.Add(cid);
            }
        }

        return roots;
    }

    private static string TrailerError(HttpResponseMessage response) =>
        response.TrailingHeaders.TryGetValues("X-Stream-Error", out var values) ? $" (X-Stream-Error: {string.Join("; ", values)})" : "";

    private static JsonDocument ParseJson(string text, string where)
    {
        try
        {
            return JsonDocument.Parse(text);
        }
        catch (JsonException e)
        {
            throw new IpfsException(IpfsErrorCodes.BadAnswer, $"{where} answered something that is not JSON ({e.Message}): {Excerpt(text)}");
        }
    }

    private static string? OptionalString(JsonElement element, string name) =>
        element.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;

    private static string Excerpt(string text) => text.Length > 200 ? text[..200] + "…" : text;

    /// <summary>
    /// multipart/form-data with one file part, written straight from the source while the local importer reads the
    /// same bytes: the upload and the local CID come from one pass, so a file is never read twice.
    /// </summary>
    private sealed class ImportingMultipartContent : HttpContent
    {
        private readonly Stream _source;
        private readonly string _fileName;
        private readonly UnixFsOptions _options;
        private readonly IProgress<long>? _progress;
        private readonly TimeSpan _stallTimeout;
        private readonly string _where;
        private readonly string _boundary = "inframind-" + Guid.NewGuid().ToString("N");
        private bool _sent;

        public ImportingMultipartContent(Stream source, string fileName, UnixFsOptions options, IProgress<long>? progress, TimeSpan stallTimeout, string where)
        {
            _source = source;
            _fileName = fileName;
            _options = options;
            _progress = progress;
            _stallTimeout = stallTimeout;
            _where = where;
            Headers.ContentType = MediaTypeHeaderValue.Parse($"multipart/form-data; boundary={_boundary}");
        }

        public UnixFsResult? Result { get; private set; }

        protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context) =>
            SerializeToStreamAsync(stream, context, CancellationToken.None);

        protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context, CancellationToken cancellationToken)
        {
            if (_sent)
            {
                // The source is read once; a redirect or retry would send an empty or partial file.
                throw new IpfsException(IpfsErrorCodes.BadAnswer, "the node asked for the upload to be sent again (redirect or retry)",
                    hint: "give the node's RPC API address itself, one that answers without redirects");
            }

            _sent = true;
            string head =
                $"--{_boundary}\r\n" +
                $"Content-Disposition: form-data; name=\"file\"; filename=\"{Uri.EscapeDataString(_fileName)}\"\r\n" +
                "Content-Type: application/octet-stream\r\n\r\n";
            await stream.WriteAsync(Encoding.UTF8.GetBytes(head), cancellationToken).ConfigureAwait(false);
            var tee = new PeerBodyStream(_source, _where, _stallTimeout, VerifiedDownload.Faults, leaveOpen: true) { Copy = stream, Progress = _progress };
            await using (tee.ConfigureAwait(false))
            {
                Result = await UnixFsImporter.ComputeAsync(tee, _options, cancellationToken).ConfigureAwait(false);
            }

            await stream.WriteAsync(Encoding.UTF8.GetBytes($"\r\n--{_boundary}--\r\n"), cancellationToken).ConfigureAwait(false);
        }

        protected override bool TryComputeLength(out long length)
        {
            length = 0;
            return false;
        }
    }
}
