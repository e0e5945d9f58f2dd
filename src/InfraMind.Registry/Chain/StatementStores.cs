using System.Net;

namespace InfraMind.Registry.Chain;

/// <summary>
/// Where signed statements (DSSE envelopes, canonical JSON) live: the chain keeps only their SHA-256 and URI, because a
/// statement with its inlined manifest is kilobytes, and calldata at 16 gas a byte would cost more than the whole
/// publish budget. Content-addressed: a store keys each statement by its digest and every fetch is checked against the
/// digest recorded on chain (<see cref="StatementFetcher"/>), so a store need not be trusted, only available.
/// </summary>
public interface IStatementStore
{
    /// <summary>Stores <paramref name="statement"/> (whose SHA-256 is <paramref name="digest"/>) and returns the URI verifiers fetch it from.</summary>
    Task<string> PutAsync(ReadOnlyMemory<byte> statement, string digest, CancellationToken cancellationToken);

    /// <summary>True when this store fetches <paramref name="uri"/> (and is allowed to: a store never follows a stranger's URI elsewhere).</summary>
    bool CanFetch(string uri);

    /// <summary>The bytes at <paramref name="uri"/>, at most <paramref name="maxBytes"/>; unchecked (the caller checks the digest).</summary>
    Task<byte[]> FetchAsync(string uri, int maxBytes, CancellationToken cancellationToken);
}

/// <summary>Fetches a statement through the first store that can, bounded in size, and checks its digest.</summary>
public sealed class StatementFetcher(IReadOnlyList<IStatementStore> stores, int maxBytes = StatementFetcher.DefaultMaxBytes)
{
    /// <summary>A statement carries the resolved manifest with its schemas: 1 MiB is far above any real one.</summary>
    public const int DefaultMaxBytes = 1024 * 1024;

    public int MaxBytes { get; } = maxBytes;

    /// <summary>
    /// The statement at <paramref name="uri"/> whose SHA-256 must be <paramref name="digest"/>:
    /// <see cref="ChainErrorCodes.StatementUnavailable"/> when no store can fetch it or it does not answer,
    /// <see cref="ChainErrorCodes.StatementTooLarge"/>, <see cref="ChainErrorCodes.StatementDigestMismatch"/>.
    /// </summary>
    public async Task<byte[]> FetchAsync(string uri, string digest, CancellationToken cancellationToken)
    {
        var store = stores.FirstOrDefault(s => s.CanFetch(uri))
            ?? throw new ChainException(ChainErrorCodes.StatementUnavailable, $"statement {uri}: no configured statement store fetches this location.", "configure a statement store that serves it (file directory or HTTP base)");
        byte[] bytes;
        try
        {
            bytes = await store.FetchAsync(uri, MaxBytes, cancellationToken).ConfigureAwait(false);
        }
        catch (ChainException)
        {
            throw;
        }
        catch (Exception ex) when (ex is IOException or HttpRequestException or UnauthorizedAccessException || (ex is TaskCanceledException && !cancellationToken.IsCancellationRequested))
        {
            throw new ChainException(ChainErrorCodes.StatementUnavailable, $"statement {uri} cannot be fetched: {NetworkFailure.Describe(ex)}.", null, ex);
        }

        var actual = ChainPublishRecord.DigestOf(bytes);
        if (actual != digest)
        {
            throw new ChainException(ChainErrorCodes.StatementDigestMismatch, $"statement {uri} has digest {actual}, but the chain records {digest}: it was altered or replaced.");
        }

        return bytes;
    }
}

/// <summary>Statements as files <c>&lt;hex&gt;.dsse.json</c> in one directory, addressed as <c>file://</c> URIs; fetches only from that directory.</summary>
public sealed class DirectoryStatementStore : IStatementStore
{
    public DirectoryStatementStore(string directory)
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        Directory = Path.GetFullPath(directory);
    }

    public string Directory { get; }

    public Task<string> PutAsync(ReadOnlyMemory<byte> statement, string digest, CancellationToken cancellationToken)
    {
        var path = PathOf(digest);
        System.IO.Directory.CreateDirectory(Directory);
        // Whole or not at all, on disk before its name (a statement is named by its digest: any writer's bytes are the same).
        if (!File.Exists(path)) AtomicFile.Write(path, statement.Span, AtomicFile.ReadableByAll);
        return Task.FromResult(new Uri(path).AbsoluteUri);
    }

    public bool CanFetch(string uri) =>
        Uri.TryCreate(uri, UriKind.Absolute, out var u) && u.IsFile && Path.GetDirectoryName(Path.GetFullPath(u.LocalPath)) == Directory;

    public async Task<byte[]> FetchAsync(string uri, int maxBytes, CancellationToken cancellationToken)
    {
        var path = new Uri(uri).LocalPath;
        await using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read);
        return await ReadBoundedAsync(stream, uri, maxBytes, cancellationToken).ConfigureAwait(false);
    }

    private string PathOf(string digest)
    {
        _ = ChainPublishRecord.Digest(digest, "statement digest");
        return Path.Combine(Directory, digest[7..] + ".dsse.json");
    }

    internal static async Task<byte[]> ReadBoundedAsync(Stream stream, string uri, int maxBytes, CancellationToken cancellationToken) =>
        await BoundedBody.ReadAsync(stream, null, maxBytes, cancellationToken).ConfigureAwait(false)
        ?? throw new ChainException(ChainErrorCodes.StatementTooLarge, $"statement {uri} is larger than {maxBytes} bytes; it is refused unread.");
}

/// <summary>
/// Statements over HTTP(S): PUT to <c>{base}/{hex}.dsse.json</c> (a WebDAV-style server: nginx with dav, a bucket),
/// fetched by GET from that base or from the other <paramref name="allowedPrefixes"/> only: the indexer never follows a
/// publisher's URI to an arbitrary host.
/// </summary>
public sealed class HttpStatementStore(HttpClient http, Uri? putBase, IReadOnlyList<Uri>? allowedPrefixes = null) : IStatementStore
{
    private readonly IReadOnlyList<string> _prefixes = [.. (allowedPrefixes ?? []).Concat(putBase is null ? [] : [putBase]).Select(p => p.AbsoluteUri.TrimEnd('/') + "/")];

    public async Task<string> PutAsync(ReadOnlyMemory<byte> statement, string digest, CancellationToken cancellationToken)
    {
        if (putBase is null)
        {
            throw new InvalidOperationException("this HTTP statement store has no base to PUT to.");
        }

        _ = ChainPublishRecord.Digest(digest, "statement digest");
        var uri = new Uri(putBase.AbsoluteUri.TrimEnd('/') + "/" + digest[7..] + ".dsse.json");
        using var content = new ReadOnlyMemoryContent(statement);
        content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/json");
        try
        {
            using var response = await http.PutAsync(uri, content, cancellationToken).ConfigureAwait(false);
            if (!response.IsSuccessStatusCode)
            {
                throw new ChainException(ChainErrorCodes.StatementUnavailable, $"storing the statement at {uri} failed: HTTP {(int)response.StatusCode} {response.ReasonPhrase}.");
            }
        }
        catch (Exception ex) when (ex is HttpRequestException || (ex is TaskCanceledException && !cancellationToken.IsCancellationRequested))
        {
            throw new ChainException(ChainErrorCodes.StatementUnavailable, $"storing the statement at {uri} failed: {NetworkFailure.Describe(ex)}.", null, ex);
        }

        return uri.AbsoluteUri;
    }

    public bool CanFetch(string uri) =>
        Uri.TryCreate(uri, UriKind.Absolute, out var u) && (u.Scheme == Uri.UriSchemeHttp || u.Scheme == Uri.UriSchemeHttps)
        && string.IsNullOrEmpty(u.UserInfo) && _prefixes.Any(p => u.AbsoluteUri.StartsWith(p, StringComparison.Ordinal)) && !u.AbsolutePath.Contains("/../", StringComparison.Ordinal);

    /// <summary>
    /// GET of <paramref name="uri"/>, the whole answer (body included) within the client's timeout: HttpClient's own
    /// timeout ends at the headers when the body is streamed, and a store that sends one byte a second must not hold a
    /// follower's sync for days.
    /// </summary>
    public async Task<byte[]> FetchAsync(string uri, int maxBytes, CancellationToken cancellationToken)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(http.Timeout);
        try
        {
            using var response = await http.GetAsync(new Uri(uri), HttpCompletionOption.ResponseHeadersRead, deadline.Token).ConfigureAwait(false);
            if (response.StatusCode != HttpStatusCode.OK)
            {
                throw new ChainException(ChainErrorCodes.StatementUnavailable, $"statement {uri} cannot be fetched: HTTP {(int)response.StatusCode} {response.ReasonPhrase}.");
            }

            if (response.Content.Headers.ContentLength > maxBytes)
            {
                throw new ChainException(ChainErrorCodes.StatementTooLarge, $"statement {uri} is {response.Content.Headers.ContentLength} bytes, more than {maxBytes}; it is refused unread.");
            }

            await using var stream = await response.Content.ReadAsStreamAsync(deadline.Token).ConfigureAwait(false);
            return await DirectoryStatementStore.ReadBoundedAsync(stream, uri, maxBytes, deadline.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException ex) when (!cancellationToken.IsCancellationRequested)
        {
            var seconds = http.Timeout.TotalSeconds.ToString("0.#", System.Globalization.CultureInfo.InvariantCulture);
            throw new ChainException(ChainErrorCodes.StatementUnavailable, $"statement {uri} cannot be fetched: it did not arrive within {seconds} s (the whole answer, body included).", null, ex);
        }
    }
}
