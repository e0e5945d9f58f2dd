using System.Net;
using System.Net.Sockets;
using System.Security.Authentication;

namespace InfraMind.Storage.Ipfs;

/// <summary>
/// Copies an answer body to a destination while importing it, in one pass, and fails unless it imports to the
/// expected CID. The destination has then seen every byte, so the caller must discard it on failure (write to a
/// temp file and move it into place only on success).
/// </summary>
internal static class VerifiedDownload
{
    public static async Task<UnixFsResult> CopyAsync(
        Stream source,
        Cid expected,
        UnixFsOptions options,
        Stream destination,
        TimeSpan stallTimeout,
        string where,
        CancellationToken cancellationToken)
    {
        await using var tee = new TeeReadStream(source, destination, null, stallTimeout, where);
        var result = await UnixFsImporter.ComputeAsync(tee, options, cancellationToken).ConfigureAwait(false);
        if (result.Root != expected)
        {
            throw new CidMismatchException(expected, result.Root, options.ToCommandLine() + $"; fetched from {where}");
        }

        await destination.FlushAsync(cancellationToken).ConfigureAwait(false);
        return result;
    }

    /// <summary>The settings a CID was most likely made with by <c>ipfs add</c>: kubo's defaults for v0, --cid-version 1 for v1.</summary>
    public static UnixFsOptions InferOptions(Cid root, string? wrapName) =>
        (root.Version == 0 ? UnixFsOptions.KuboDefault : UnixFsOptions.KuboCidV1) with { WrapName = wrapName };

    /// <summary>Maps transport failures to IM41xx errors that say what to do; anything else passes through.</summary>
    public static IpfsException? Translate(Exception e, string where, string startHint, CancellationToken cancellationToken)
    {
        if (e is IpfsException)
        {
            return null;
        }

        // HttpClient wraps what the request content throws (e.g. a stalled source file during add): surface that.
        for (var inner = e.InnerException; inner is not null; inner = inner.InnerException)
        {
            if (inner is IpfsException ipfs)
            {
                return ipfs;
            }
        }

        if (e is OperationCanceledException && !cancellationToken.IsCancellationRequested)
        {
            return new IpfsException(IpfsErrorCodes.Stalled, $"{where} did not answer in time. Check that it is running and not overloaded, or raise the timeout.");
        }

        if (e is HttpRequestException { HttpRequestError: HttpRequestError.ConnectionError or HttpRequestError.NameResolutionError or HttpRequestError.SecureConnectionError } h)
        {
            return new IpfsException(IpfsErrorCodes.NodeUnreachable, $"nothing answers at {where} ({h.InnerException?.Message ?? h.Message}). {startHint}");
        }

        if (e is HttpRequestException or HttpIOException or IOException or SocketException or AuthenticationException)
        {
            return new IpfsException(IpfsErrorCodes.BadAnswer, $"the answer from {where} broke off ({e.Message}). Try again; if it repeats, the node or gateway is failing.");
        }

        return null;
    }

    public static async Task ThrowIfErrorAsync(HttpResponseMessage response, string where, CancellationToken cancellationToken)
    {
        if (response.IsSuccessStatusCode)
        {
            return;
        }

        string body;
        try
        {
            body = await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (HttpRequestException)
        {
            body = "";
        }

        body = body.Trim();
        if (body.Length > 300)
        {
            body = body[..300] + "…";
        }

        string hint = response.StatusCode switch
        {
            HttpStatusCode.NotFound => "The node or gateway does not have this content: add or pin it there, or use a source that has it.",
            HttpStatusCode.MethodNotAllowed => "The address is not a Kubo RPC API (it takes POST) or not a gateway (it takes GET): check the address.",
            HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden => "The node refuses this client: check its API access settings.",
            _ => "Check the node's or gateway's log; try again when it is healthy.",
        };
        throw new IpfsException(
            IpfsErrorCodes.HttpError,
            $"{where} answered {(int)response.StatusCode} {response.ReasonPhrase}{(body.Length > 0 ? $": {body}" : "")}. {hint}");
    }
}

/// <summary>
/// A read-only stream that copies what is read to a second stream and reports progress. Each read must make progress
/// within the stall timeout, so a source that hangs half-way fails instead of blocking forever.
/// </summary>
internal sealed class TeeReadStream(Stream source, Stream? copy, IProgress<long>? progress, TimeSpan stallTimeout, string where) : Stream
{
    private long _position;

    public override bool CanRead => true;

    public override bool CanSeek => false;

    public override bool CanWrite => false;

    public override long Length => throw new NotSupportedException();

    public override long Position
    {
        get => _position;
        set => throw new NotSupportedException();
    }

    public override int Read(byte[] buffer, int offset, int count) =>
        ReadAsync(buffer.AsMemory(offset, count)).AsTask().GetAwaiter().GetResult();

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        int n;
        using (var stall = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken))
        {
            if (stallTimeout != Timeout.InfiniteTimeSpan)
            {
                stall.CancelAfter(stallTimeout);
            }

            try
            {
                n = await source.ReadAsync(buffer, stall.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                throw new IpfsException(
                    IpfsErrorCodes.Stalled,
                    $"{where} sent nothing for {stallTimeout.TotalSeconds:0.###} s after {_position} bytes. Check that it is healthy and try again, or raise the stall timeout.");
            }
        }

        if (n > 0)
        {
            if (copy is not null)
            {
                await copy.WriteAsync(buffer[..n], cancellationToken).ConfigureAwait(false);
            }

            _position += n;
            progress?.Report(_position);
        }

        return n;
    }

    public override void Flush()
    {
    }

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
}
