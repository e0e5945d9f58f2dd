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
        await using var tee = new PeerBodyStream(source, where, stallTimeout, Faults, leaveOpen: true) { Copy = destination };
        var result = await UnixFsImporter.ComputeAsync(tee, options, cancellationToken).ConfigureAwait(false);
        if (result.Root != expected)
        {
            throw new CidMismatchException(expected, result.Root, options.ToCommandLine() + $"; fetched from {where}");
        }

        await destination.FlushAsync(cancellationToken).ConfigureAwait(false);
        return result;
    }

    /// <summary>
    /// An IPFS node or gateway (or the file being added to a node) that stalls: IM4107. A connection that breaks passes
    /// through, and <see cref="Translate"/> names it IM4106 with the request it broke.
    /// </summary>
    public static IBodyFaults Faults { get; } = new IpfsFaults();

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
            if (inner is IpfsException)
            {
                return (IpfsException)inner;
            }
        }

        if (e is OperationCanceledException && !cancellationToken.IsCancellationRequested)
        {
            return new IpfsException(IpfsErrorCodes.Stalled, $"{where} did not answer in time",
                hint: "check that it runs and is not overloaded, then retry, or raise the timeout");
        }

        if (e is HttpRequestException { HttpRequestError: HttpRequestError.ConnectionError or HttpRequestError.NameResolutionError or HttpRequestError.SecureConnectionError })
        {
            return new IpfsException(IpfsErrorCodes.NodeUnreachable, $"nothing answers at {where} ({NetworkFailure.Describe(e)}). {startHint}");
        }

        if (e is HttpRequestException or HttpIOException or IOException or SocketException or AuthenticationException)
        {
            return new IpfsException(IpfsErrorCodes.BadAnswer, $"the answer from {where} broke off ({NetworkFailure.Describe(e)})",
                hint: "retry; if it repeats, the node or gateway is failing (its log says why)");
        }

        return null;
    }

    /// <summary>Bytes of an error answer's body read at most: its first <see cref="MaxErrorBodyChars"/> characters are shown.</summary>
    internal const int MaxErrorBodyBytes = 4096;

    /// <summary>Characters of an error answer's body shown in the message.</summary>
    internal const int MaxErrorBodyChars = 300;

    /// <summary>
    /// Throws IM4105 for an error status, quoting the start of the body: at most <see cref="MaxErrorBodyBytes"/> read
    /// (a node or gateway may send an endless one), for at most <paramref name="bodyTimeout"/> in all (or one that never
    /// ends), its control characters escaped. The status alone decides; the body is only shown.
    /// </summary>
    public static async Task ThrowIfErrorAsync(HttpResponseMessage response, string where, TimeSpan bodyTimeout, CancellationToken cancellationToken)
    {
        if (response.IsSuccessStatusCode)
        {
            return;
        }

        string body = TerminalText.Escape(TerminalText.Shorten(
            (await ReadErrorBodyAsync(response.Content, bodyTimeout, cancellationToken).ConfigureAwait(false)).Trim(), MaxErrorBodyChars));
        string hint = response.StatusCode switch
        {
            HttpStatusCode.NotFound => "the node or gateway does not have this content: add or pin it there, or use a source that has it",
            HttpStatusCode.MethodNotAllowed => "the address is not a Kubo RPC API (it takes POST) or not a gateway (it takes GET): check the address",
            HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden => "the node refuses this client: check its API access settings",
            _ => IpfsErrorCodes.HttpError.DefaultHint!,
        };
        throw new IpfsException(
            IpfsErrorCodes.HttpError,
            $"{where} answered {(int)response.StatusCode} {TerminalText.Escape(response.ReasonPhrase ?? "")}{(body.Length > 0 ? $": {body}" : "")}", hint: hint);
    }

    /// <summary>What of the body comes within the limits; a body that breaks off or stalls is shown as far as it came.</summary>
    private static async Task<string> ReadErrorBodyAsync(HttpContent content, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var buffer = new byte[MaxErrorBodyBytes];
        int length = 0;
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(timeout);
        try
        {
            await using var stream = await content.ReadAsStreamAsync(deadline.Token).ConfigureAwait(false);
            while (length < buffer.Length)
            {
                int read = await stream.ReadAsync(buffer.AsMemory(length), deadline.Token).ConfigureAwait(false);
                if (read == 0)
                {
                    break;
                }

                length += read;
            }
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
        }
        catch (Exception e) when (e is HttpRequestException or IOException)
        {
        }

        return System.Text.Encoding.UTF8.GetString(buffer, 0, length);
    }

    private sealed class IpfsFaults : IBodyFaults
    {
        public Exception Stalled(string description, Exception cause) =>
            new IpfsException(IpfsErrorCodes.Stalled, description, hint: "check that it is healthy and retry, or raise the stall timeout");

        public Exception? BrokeOff(string description, Exception cause) => null;
    }
}
