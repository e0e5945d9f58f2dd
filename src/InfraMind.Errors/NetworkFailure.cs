using System.Net.Http;
using System.Net.Sockets;
using System.Security.Authentication;

namespace InfraMind;

/// <summary>
/// Why a connection to a peer failed, in a user's words: "connection refused: nothing listens there", not .NET's
/// "An error occurred while sending the request." Every message that says a peer could not be reached takes its reason
/// from here, so that the same failure reads the same in every command and server. The reason is a clause without a
/// final period, to be put in parentheses or after a colon.
/// </summary>
public static class NetworkFailure
{
    /// <summary>The reason <paramref name="failure"/> (an HttpRequestException, IOException, SocketException, …) gives.</summary>
    public static string Describe(Exception failure)
    {
        ArgumentNullException.ThrowIfNull(failure);
        for (var e = failure; e is not null; e = e.InnerException)
        {
            // A read cancelled by a timeout ends in a SocketException "Operation canceled": the timeout is the reason.
            if (e is SocketException { SocketErrorCode: not SocketError.OperationAborted } socket) return Socket(socket);
        }

        for (var e = failure; e is not null; e = e.InnerException)
        {
            switch (e)
            {
                case AuthenticationException tls:
                    return $"the TLS handshake failed: {Clause(tls.Message)}";
                case HttpRequestException http when Request(http.HttpRequestError) is { } reason:
                    return reason;
                case HttpIOException io when Request(io.HttpRequestError) is { } reason:
                    return reason;
                case TimeoutException or OperationCanceledException:
                    return "no answer in time";
            }
        }

        return failure.GetBaseException() is { } innermost && innermost is not HttpRequestException
            ? Clause(innermost.Message)
            : "the request could not be sent";
    }

    /// <summary>
    /// The first <see cref="HttpRequestError"/> other than <see cref="HttpRequestError.Unknown"/> in
    /// <paramref name="failure"/>'s chain (an HttpRequestException or HttpIOException, at any depth), or Unknown: what
    /// kind of HTTP failure it was, for a caller that decides by it rather than by text.
    /// </summary>
    public static HttpRequestError HttpError(Exception failure)
    {
        ArgumentNullException.ThrowIfNull(failure);
        for (var e = failure; e is not null; e = e.InnerException)
        {
            var error = e switch { HttpRequestException h => h.HttpRequestError, HttpIOException io => io.HttpRequestError, _ => HttpRequestError.Unknown };
            if (error != HttpRequestError.Unknown) return error;
        }

        return HttpRequestError.Unknown;
    }

    private static string Socket(SocketException socket) => socket.SocketErrorCode switch
    {
        SocketError.ConnectionRefused => "connection refused: nothing listens there",
        SocketError.HostNotFound or SocketError.NoData or SocketError.TryAgain => "host not found",
        SocketError.TimedOut => "connection timed out",
        SocketError.ConnectionReset => "the connection was reset by the peer",
        SocketError.ConnectionAborted or SocketError.Shutdown => "the connection was closed",
        SocketError.NetworkUnreachable or SocketError.HostUnreachable or SocketError.HostDown => "no route to the host",
        SocketError.AddressNotAvailable => "the address is not available on this machine",
        SocketError.AccessDenied => "permission denied",
        SocketError.AddressAlreadyInUse => "the address is in use: another process listens there",
        _ => Clause(socket.Message),
    };

    private static string? Request(HttpRequestError error) => error switch
    {
        HttpRequestError.NameResolutionError => "host not found",
        HttpRequestError.ConnectionError => "the connection could not be made",
        HttpRequestError.SecureConnectionError => "the TLS handshake failed",
        HttpRequestError.ResponseEnded => "the connection closed before a whole answer came",
        HttpRequestError.InvalidResponse => "the answer is not HTTP",
        HttpRequestError.HttpProtocolError => "the peer broke the HTTP protocol",
        HttpRequestError.VersionNegotiationError => "the peer does not speak the HTTP version asked for",
        HttpRequestError.ConfigurationLimitExceeded => "the answer is larger than this client accepts",
        HttpRequestError.ProxyTunnelError => "the proxy refused the tunnel",
        HttpRequestError.UserAuthenticationError => "the peer asked for credentials this client does not have",
        _ => null,
    };

    /// <summary>A message as a clause: no final period (it goes inside a sentence), whitespace trimmed.</summary>
    private static string Clause(string message) => message.Trim().TrimEnd('.');
}
