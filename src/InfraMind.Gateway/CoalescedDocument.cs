using System.IO.Compression;
using Microsoft.Net.Http.Headers;
using Microsoft.Extensions.Primitives;

namespace InfraMind.Gateway;

/// <summary>
/// A document built on request, one build at a time however many ask at once: GET /inference/v1's state document,
/// which copies every version and node under the mesh's lock and grows with the catalog. A request that finds no build
/// running starts one; one that finds a build running waits for the next, which starts when that one ends and is
/// shared by every request that arrived meanwhile. So each answer was built after its request arrived (never older),
/// and callers asking at once cost the gateway one build more, not one each.
/// </summary>
internal sealed class CoalescedDocument(Func<byte[]> build)
{
    private readonly object _gate = new();
    private TaskCompletionSource<BuiltDocument>? _running;
    private TaskCompletionSource<BuiltDocument>? _next;
    private long _builds;

    /// <summary>How many times the document was built.</summary>
    public long Builds => Interlocked.Read(ref _builds);

    public Task<BuiltDocument> GetAsync()
    {
        TaskCompletionSource<BuiltDocument> build;
        lock (_gate)
        {
            if (_running is not null) return (_next ??= new(TaskCreationOptions.RunContinuationsAsynchronously)).Task;
            _running = build = new(TaskCreationOptions.RunContinuationsAsynchronously);
        }

        _ = Task.Run(() => Run(build));
        return build.Task;
    }

    private void Run(TaskCompletionSource<BuiltDocument>? current)
    {
        while (current is not null)
        {
            try
            {
                Interlocked.Increment(ref _builds);
                current.SetResult(new BuiltDocument(build()));
            }
            catch (Exception e)
            {
                current.SetException(e);
            }

            lock (_gate)
            {
                _running = current = _next;
                _next = null;
            }
        }
    }
}

/// <summary>
/// One build of a <see cref="CoalescedDocument"/>: its bytes, and the same bytes gzipped for the clients that accept
/// gzip (the dashboard's browser does), made on the first such request and shared by every request the build answers:
/// compressed once per build, not once per client (ASP.NET's ResponseCompression middleware compresses each response,
/// so N dashboards would cost N compressions of the same bytes). The state document is ~500 bytes a version (2.5 MB at
/// 5,000), polled every 2 s by each open dashboard; gzipped it is about a sixth, ~5 ms for 2.5 MB (docs/scale.md).
/// </summary>
internal sealed class BuiltDocument(byte[] bytes)
{
    /// <summary>Below this a document goes as it is: gzip's header and the client's inflating would cost more than they save.</summary>
    public const int MinGzipBytes = 1024;

    private readonly Lazy<byte[]> _gzipped = new(() => Gzip(bytes), LazyThreadSafetyMode.ExecutionAndPublication);

    public byte[] Bytes => bytes;

    /// <summary>The bytes gzipped (fastest level: made while a request waits), once however many ask.</summary>
    public byte[] Gzipped => _gzipped.Value;

    /// <summary>
    /// What to send a request with this Accept-Encoding: the bytes gzipped (<paramref name="Encoding"/> "gzip") where it
    /// accepts gzip and the document is <see cref="MinGzipBytes"/> or more, else the bytes as they are (null).
    /// </summary>
    public (byte[] Body, string? Encoding) For(StringValues acceptEncoding) =>
        bytes.Length >= MinGzipBytes && AcceptsGzip(acceptEncoding) ? (Gzipped, "gzip") : (bytes, null);

    /// <summary>
    /// Whether a request's Accept-Encoding lets its answer be gzipped (RFC 9110 §12.5.3): gzip (or x-gzip) named with a
    /// quality above 0, or, gzip not named, "*" with a quality above 0. A header that does not parse gets the bytes as they are.
    /// </summary>
    public static bool AcceptsGzip(StringValues acceptEncoding)
    {
        if (!StringWithQualityHeaderValue.TryParseList(acceptEncoding, out var codings)) return false;
        double? gzip = null;
        double? any = null;
        foreach (var coding in codings)
        {
            var quality = coding.Quality ?? 1;
            if (coding.Value.Equals("gzip", StringComparison.OrdinalIgnoreCase) || coding.Value.Equals("x-gzip", StringComparison.OrdinalIgnoreCase))
                gzip = Math.Max(gzip ?? 0, quality);
            else if (coding.Value.Equals("*", StringComparison.Ordinal))
                any = Math.Max(any ?? 0, quality);
        }

        return (gzip ?? any ?? 0) > 0;
    }

    private static byte[] Gzip(byte[] bytes)
    {
        using var output = new MemoryStream((bytes.Length / 8) + 64);
        using (var gzip = new GZipStream(output, CompressionLevel.Fastest, leaveOpen: true)) gzip.Write(bytes);
        return output.ToArray();
    }
}
