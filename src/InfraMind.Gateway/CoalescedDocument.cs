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
internal sealed class CoalescedDocument(Func<Task<byte[]>> build)
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

        _ = Task.Run(() => RunAsync(build));
        return build.Task;
    }

    private async Task RunAsync(TaskCompletionSource<BuiltDocument>? current)
    {
        while (current is not null)
        {
            try
            {
                Interlocked.Increment(ref _builds);
                current.SetResult(new BuiltDocument(await build().ConfigureAwait(false)));
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
/// The pace of the builds of the gateway's state documents (GET /inference/v1, whole and filtered, and GET
/// /dashboard/state, whole and filtered): one at a time of any kind, and after each a pause <see cref="PauseFactor"/>
/// times as long as it took before the next starts, so builds take at most a quarter of the time whatever clients
/// ask. A build holds the mesh's lock, which every routing decision and heartbeat takes, for the copy of what it shows
/// (for a dashboard view, most of the build). Asked back to back, as a client that never pauses asks, builds held it
/// nearly all the time: with two callers building filtered dashboard views without pause, a call that takes the lock
/// (as routing does) waited a p50 of 0.45–1.4 ms and a p99 of 100–119 ms, against 0.014 ms and under 0.1 ms with no
/// builds; paced, 0.008–0.011 ms and 0.39–0.92 ms, and ~500 builds in 2 s (bench/MeshScale catalog, its "routing
/// call while 2 callers ask filtered dashboard views" line; docs/scale.md). Real time, not the mesh's clock: a test's
/// frozen clock must not stop the pages that read the mesh.
/// </summary>
internal sealed class BuildPacer(TimeProvider time)
{
    /// <summary>The pause after a build, in multiples of the time it took (<see cref="PauseAfter"/>): builds take at most 1 / (1 + this) of the time.</summary>
    public const int PauseFactor = 3;

    private readonly Lock _gate = new();

    // Completes when the last build asked for has run and its pause is over: each build waits for the one asked before
    // it, in the order they were asked (a page's poll waits behind the builds already asked, never behind later ones).
    private Task _turn = Task.CompletedTask;

    /// <summary>Runs <paramref name="build"/> once the builds asked before it ran and the last one's pause is over; its time sets the next pause.</summary>
    public async Task<T> RunAsync<T>(Func<T> build, CancellationToken cancellationToken)
    {
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Task previous;
        lock (_gate)
        {
            previous = _turn;
            _turn = done.Task;
        }

        try
        {
            await previous.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // Left while waiting: its turn passes to the next when the one before ends, with no build and no pause.
            _ = previous.ContinueWith(_ => done.SetResult(), CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
            throw;
        }

        var started = time.GetTimestamp();
        try
        {
            return build();
        }
        finally
        {
            _ = PassOnAsync(done, PauseAfter(time.GetElapsedTime(started)));
        }
    }

    /// <summary>
    /// <see cref="PauseFactor"/> times <paramref name="took"/>, up to the next whole millisecond: the system's timers
    /// count whole milliseconds and end a shorter delay at once, so a build of 0.2 ms (a small view) was followed by no
    /// pause at all, and back-to-back builds held the mesh's lock most of the time again (bench/MeshScale's catalog mode,
    /// 1,000 versions: 2,073–4,452 builds in 2 s where pauses allow ~500; docs/scale.md).
    /// </summary>
    internal static TimeSpan PauseAfter(TimeSpan took) =>
        took <= TimeSpan.Zero ? TimeSpan.Zero : TimeSpan.FromMilliseconds(Math.Ceiling(took.TotalMilliseconds * PauseFactor));

    private async Task PassOnAsync(TaskCompletionSource done, TimeSpan pause)
    {
        try
        {
            if (pause > TimeSpan.Zero) await Task.Delay(pause, time).ConfigureAwait(false);
        }
        finally
        {
            done.SetResult();
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
