using System.Text;

namespace InfraMind.Serving.Grpc;

/// <summary>What a model's port spoke when greeted as an HTTP/2 client does.</summary>
public enum PortProtocol
{
    /// <summary>Nothing recognisable came back (closed, silent, or other bytes).</summary>
    Unknown,

    /// <summary>An HTTP/1.x status line: a REST server.</summary>
    Http1,

    /// <summary>An HTTP/2 frame (SETTINGS or GOAWAY): an h2c server, as gRPC needs.</summary>
    Http2,
}

/// <summary>
/// Tells which protocol a model's port speaks, to name it in a verdict when a model declared one and serves the other.
/// Written by hand because no client library says what answered when its own protocol failed: it sends HTTP/2's
/// client preface and an empty SETTINGS frame, and reads the first bytes back: an HTTP/1 server answers the
/// <c>PRI</c> request with a status line, an h2c server with its SETTINGS frame.
/// </summary>
public static class ProtocolSniffer
{
    private static readonly byte[] Greeting = [.. "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"u8, 0, 0, 0, 4, 0, 0, 0, 0, 0];

    public static async Task<PortProtocol> SniffAsync(IModelConnector connector, TimeSpan timeout, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(connector);
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(timeout);
        try
        {
            await using var stream = await connector.ConnectAsync(deadline.Token);
            await stream.WriteAsync(Greeting, deadline.Token);
            var buffer = new byte[16];
            var read = 0;
            while (read < 9)
            {
                var n = await stream.ReadAsync(buffer.AsMemory(read), deadline.Token);
                if (n == 0) break;
                read += n;
            }

            if (read >= 5 && Encoding.ASCII.GetString(buffer, 0, 5) == "HTTP/") return PortProtocol.Http1;
            // A frame header: 3 bytes length, 1 byte type (4 = SETTINGS, 7 = GOAWAY), 1 byte flags, 4 bytes stream id 0.
            if (read >= 9 && buffer[3] is 4 or 7 && buffer[5] == 0 && buffer[6] == 0 && buffer[7] == 0 && (buffer[8] & 0x7f) == 0) return PortProtocol.Http2;
            // Some HTTP/1 servers answer a request of an unknown version as HTTP/0.9 would: the error page, no status
            // line (Python's http.server does). Text where a frame header should be is an HTTP/1 server all the same.
            if (read > 0 && buffer.Take(read).All(b => b is >= 0x20 and <= 0x7e or (byte)'\r' or (byte)'\n' or (byte)'\t')) return PortProtocol.Http1;
            return PortProtocol.Unknown;
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return PortProtocol.Unknown;
        }
        catch (Exception e) when (e is IOException or System.Net.Sockets.SocketException)
        {
            return PortProtocol.Unknown;
        }
    }

    /// <summary>How a verdict names <paramref name="protocol"/>.</summary>
    public static string Describe(PortProtocol protocol) => protocol switch
    {
        PortProtocol.Http1 => "HTTP/1.x (a REST server)",
        PortProtocol.Http2 => "HTTP/2 (h2c, as gRPC servers speak)",
        _ => "nothing recognisable",
    };
}
