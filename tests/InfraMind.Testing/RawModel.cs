using System.Net;
using System.Net.Sockets;
using System.Text;
using InfraMind.Serving;

namespace InfraMind.Testing;

/// <summary>
/// A model "container" with no engine: each connection its connector opens is a loopback socket pair whose server side
/// reads the request's first bytes (one read: the tests' requests are small), writes <paramref name="raw"/> as it is
/// (nothing: the connection is dropped without a byte of answer), then closes.
/// </summary>
public sealed class RawModel(string raw = "") : IModelConnector, IDisposable
{
    private readonly TcpListener _listener = Start();
    private int _answered;

    /// <summary>Connections whose request was read (counted before the answer is written and the connection closed).</summary>
    public int Answered => Volatile.Read(ref _answered);

    private static TcpListener Start()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return listener;
    }

    public async ValueTask<Stream> ConnectAsync(CancellationToken cancellationToken)
    {
        var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await client.ConnectAsync((IPEndPoint)_listener.LocalEndpoint, cancellationToken);
        var server = await _listener.AcceptSocketAsync(cancellationToken);
        _ = AnswerAsync(server);
        return new NetworkStream(client, ownsSocket: true);
    }

    private async Task AnswerAsync(Socket server)
    {
        using (server)
        {
            await server.ReceiveAsync(new byte[64 * 1024]);
            // Counted before a byte of answer or the close: the client learns its outcome only after either, so a test
            // that has its verdict sees the count (counted after the close, it raced the client's verdict).
            Interlocked.Increment(ref _answered);
            if (raw.Length > 0) await server.SendAsync(Encoding.ASCII.GetBytes(raw));
            server.Shutdown(SocketShutdown.Both);
        }
    }

    public void Dispose() => _listener.Stop();
}
