using System.Net.Sockets;
using System.Text;

namespace InfraMind.Testing;

/// <summary>
/// One HTTP/1.1 exchange written and read as bytes, for what HttpClient hides: whether an answer to HEAD carries body
/// bytes, or what a server answers a request line it refuses. The request should say <c>Connection: close</c>.
/// </summary>
public static class RawHttpExchange
{
    /// <summary>Sends <paramref name="request"/> on a connection of its own and reads the answer until the server closes it.</summary>
    public static async Task<(string Head, byte[] Body)> SendAsync(Uri server, string request)
    {
        ArgumentNullException.ThrowIfNull(server);
        using var client = new TcpClient();
        using var limit = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await client.ConnectAsync(server.Host, server.Port, limit.Token);
        var stream = client.GetStream();
        await stream.WriteAsync(Encoding.ASCII.GetBytes(request), limit.Token);
        using var answer = new MemoryStream();
        await stream.CopyToAsync(answer, limit.Token);
        var bytes = answer.ToArray();
        var end = bytes.AsSpan().IndexOf("\r\n\r\n"u8);
        Xunit.Assert.True(end >= 0, Encoding.ASCII.GetString(bytes));
        return (Encoding.ASCII.GetString(bytes, 0, end + 2), bytes[(end + 4)..]);
    }
}
