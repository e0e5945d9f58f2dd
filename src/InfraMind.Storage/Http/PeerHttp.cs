using System.Net;
using System.Net.Sockets;

namespace InfraMind.Storage;

/// <summary>
/// Turns what HTTP peers do wrong (refuse, stall, hang up mid-body, answer 4xx/5xx) into <see cref="StorageException"/>s
/// that name the peer and say what to do, so a user never sees a socket stack trace.
/// </summary>
internal static class PeerHttp
{
    public static async Task<HttpResponseMessage> SendAsync(HttpClient client, HttpRequestMessage request, string what, CancellationToken cancellationToken)
    {
        try
        {
            return await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken).ConfigureAwait(false);
        }
        catch (HttpRequestException e)
        {
            throw Unreachable(request.RequestUri!, what, e);
        }
        catch (TaskCanceledException e) when (!cancellationToken.IsCancellationRequested)
        {
            throw new StorageException(StorageErrorCodes.PeerUnavailable,
                $"{Peer(request.RequestUri!)} did not answer within {client.Timeout.TotalSeconds:0.#} s while {what}; check that it is up and not overloaded, then retry.", e);
        }
    }

    public static StorageException Unreachable(Uri uri, string what, Exception e)
    {
        string reason = e.InnerException is SocketException s
            ? s.SocketErrorCode switch
            {
                SocketError.ConnectionRefused => "connection refused: nothing listens there",
                SocketError.HostNotFound or SocketError.NoData => "host not found",
                SocketError.TimedOut => "connection timed out",
                _ => s.Message,
            }
            : e.Message;
        return new StorageException(StorageErrorCodes.PeerUnavailable,
            $"{Peer(uri)} could not be reached while {what} ({reason}). Check the address and that the server runs, then retry.", e);
    }

    /// <summary>Throws for any status but success, reading a short piece of the body into the message.</summary>
    public static async Task EnsureSuccessAsync(HttpResponseMessage response, string what, CancellationToken cancellationToken)
    {
        if (response.IsSuccessStatusCode)
        {
            return;
        }

        var uri = response.RequestMessage?.RequestUri;
        string body = string.Empty;
        try
        {
            body = await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (HttpRequestException)
        {
        }
        catch (IOException)
        {
        }

        body = body.ReplaceLineEndings(" ").Trim();
        if (body.Length > 300)
        {
            body = body[..300] + "…";
        }

        string status = $"{(int)response.StatusCode} {response.ReasonPhrase}";
        string where = uri is null ? "the peer" : $"{uri.GetLeftPart(UriPartial.Path)}";
        throw response.StatusCode switch
        {
            HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden => new StorageException(StorageErrorCodes.AuthenticationFailed,
                $"{where} answered {status} while {what}{(body.Length > 0 ? $": {body}" : "")}. Give credentials with INFRAMIND_REGISTRY_USERNAME and INFRAMIND_REGISTRY_PASSWORD (or check them)."),
            HttpStatusCode.NotFound => new StorageException(StorageErrorCodes.NotFound,
                $"{where} answered {status} while {what}: it does not have that content. Check the reference (repository, tag, digest, path)."),
            _ => new StorageException(StorageErrorCodes.PeerRejected,
                $"{where} answered {status} while {what}{(body.Length > 0 ? $": {body}" : "")}. " +
                ((int)response.StatusCode >= 500 ? "The server failed; retry later or ask its operator." : "The server refused the request; check the destination and its configuration.")),
        };
    }

    public static string Peer(Uri uri) => $"{uri.Scheme}://{uri.Authority}";

    /// <summary>A body of <paramref name="source"/> that fails with IM4203 when it stalls or breaks off; it owns <paramref name="response"/> when given.</summary>
    public static PeerBodyStream Body(Stream body, Uri source, TimeSpan stallTimeout, HttpResponseMessage? response = null) =>
        new(body, source.GetLeftPart(UriPartial.Path), stallTimeout, Faults) { Owner = response };

    /// <summary>A registry or HTTP server that stalls or hangs up mid-body: IM4203, the peer is unavailable.</summary>
    public static IBodyFaults Faults { get; } = new PeerFaults();

    private sealed class PeerFaults : IBodyFaults
    {
        public Exception Stalled(string description, Exception cause) =>
            new StorageException(StorageErrorCodes.PeerUnavailable, $"{description}; the server stalled. Retry, or use another source.", cause);

        public Exception? BrokeOff(string description, Exception cause) =>
            new StorageException(StorageErrorCodes.PeerUnavailable, $"{description}; the transfer is incomplete. Retry.", cause);
    }
}

/// <summary>Settings shared by the HTTP-speaking backends.</summary>
public sealed record PeerOptions
{
    /// <summary>How long to wait for response headers.</summary>
    public TimeSpan RequestTimeout { get; init; } = TimeSpan.FromSeconds(100);

    /// <summary>How long a body may go without a byte before the transfer fails.</summary>
    public TimeSpan StallTimeout { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>Registry credentials (basic, or exchanged for a bearer token); none by default.</summary>
    public RegistryCredentials? Credentials { get; init; }

    /// <summary>Blobs larger than this are uploaded in PATCH chunks of <see cref="ChunkSize"/>; smaller ones in one PUT.</summary>
    public long ChunkedUploadThreshold { get; init; } = 256L << 20;

    public int ChunkSize { get; init; } = 64 << 20;

    /// <summary>A repository on the same registry to mount blobs from instead of uploading them, when the registry offers it.</summary>
    public string? MountFrom { get; init; }

    /// <summary>The IPFS node's RPC API for pulls of ipfs:// references and pushes to plain <c>ipfs</c>.</summary>
    public Uri IpfsApi { get; init; } = new("http://127.0.0.1:5001");

    /// <summary>Where a transfer may stage files (the HTTP backend writes the layout tar here before it uploads).</summary>
    public string? TempDirectory { get; init; }

    internal HttpClient CreateClient()
    {
        var handler = new SocketsHttpHandler
        {
            AllowAutoRedirect = true,
            ConnectTimeout = TimeSpan.FromSeconds(15),
            AutomaticDecompression = DecompressionMethods.None,
        };
        return new HttpClient(handler) { Timeout = RequestTimeout };
    }
}

/// <summary>A user name and password (or token) for a registry.</summary>
public sealed record RegistryCredentials(string UserName, string Password)
{
    public override string ToString() => $"{UserName}:***";
}
