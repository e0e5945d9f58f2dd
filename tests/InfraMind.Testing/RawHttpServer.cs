using System.Net;
using System.Net.Sockets;
using System.Text;

namespace InfraMind.Testing;

/// <summary>One HTTP request as <see cref="RawHttpServer"/> read it: method, path and query, headers (names lower-cased).</summary>
public sealed record RawRequest(string Method, string Target, IReadOnlyDictionary<string, string> Headers)
{
    public string Path => Target.Split('?')[0];

    public string Header(string name) => Headers.TryGetValue(name.ToLowerInvariant(), out var v) ? v : "";
}

/// <summary>
/// A minimal HTTP/1.1 server on 127.0.0.1 (or another loopback address) that answers whatever Host a request names —
/// unlike HttpListener, which refuses hosts not in its prefix — so a test can make a name resolve to it. One
/// connection per request (Connection: close); the handler returns the status, extra headers and body.
/// </summary>
public sealed class RawHttpServer : IAsyncDisposable
{
    private readonly TcpListener _listener;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;
    private int _connections;

    public RawHttpServer(Func<RawRequest, (int Status, IReadOnlyDictionary<string, string>? Headers, byte[] Body)> handle, string address = "127.0.0.1")
    {
        _listener = new TcpListener(IPAddress.Parse(address), 0);
        _listener.Start();
        _loop = Task.Run(() => LoopAsync(handle));
    }

    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

    /// <summary>Connections accepted so far.</summary>
    public int Connections => Volatile.Read(ref _connections);

    private async Task LoopAsync(Func<RawRequest, (int Status, IReadOnlyDictionary<string, string>? Headers, byte[] Body)> handle)
    {
        while (!_stop.IsCancellationRequested)
        {
            TcpClient client;
            try
            {
                client = await _listener.AcceptTcpClientAsync(_stop.Token);
            }
            catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
            {
                return;
            }

            Interlocked.Increment(ref _connections);
            using (client)
            {
                try
                {
                    var stream = client.GetStream();
                    var head = await ReadHeadAsync(stream, _stop.Token);
                    if (head is null) continue;
                    var lines = head.Split("\r\n");
                    var first = lines[0].Split(' ');
                    var headers = lines.Skip(1).Where(l => l.Contains(':', StringComparison.Ordinal))
                        .Select(l => l.Split(':', 2))
                        .GroupBy(kv => kv[0].Trim().ToLowerInvariant())
                        .ToDictionary(g => g.Key, g => g.First()[1].Trim());
                    var (status, extra, body) = handle(new RawRequest(first[0], first.Length > 1 ? first[1] : "/", headers));
                    var answer = new StringBuilder($"HTTP/1.1 {status} {(HttpStatusCode)status}\r\nContent-Length: {body.Length}\r\nConnection: close\r\n");
                    foreach (var (k, v) in extra ?? new Dictionary<string, string>()) answer.Append(k).Append(": ").Append(v).Append("\r\n");
                    answer.Append("\r\n");
                    await stream.WriteAsync(Encoding.ASCII.GetBytes(answer.ToString()), _stop.Token);
                    await stream.WriteAsync(body, _stop.Token);
                }
                catch (Exception e) when (e is IOException or OperationCanceledException or SocketException)
                {
                }
            }
        }
    }

    private static async Task<string?> ReadHeadAsync(NetworkStream stream, CancellationToken cancellationToken)
    {
        var buffer = new byte[1];
        var head = new StringBuilder();
        while (head.Length < 65536)
        {
            if (await stream.ReadAsync(buffer, cancellationToken) == 0) return null;
            head.Append((char)buffer[0]);
            if (head.Length >= 4 && head[^1] == '\n' && head.ToString(head.Length - 4, 4) == "\r\n\r\n") return head.ToString(0, head.Length - 4);
        }

        return null;
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        await _loop.WaitAsync(TimeSpan.FromSeconds(5));
        _stop.Dispose();
    }
}
