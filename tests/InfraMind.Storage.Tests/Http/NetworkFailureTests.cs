using System.Net;
using System.Net.Sockets;
using System.Text;
using InfraMind.Testing;

namespace InfraMind.Storage.Tests.Http;

/// <summary>
/// <see cref="NetworkFailure.Describe"/> against real sockets on 127.0.0.1: each way a peer fails reads as a reason a
/// user understands, never as .NET's "An error occurred while sending the request."
/// </summary>
public sealed class NetworkFailureTests
{
    [Fact]
    public async Task Nothing_listening_is_connection_refused()
    {
        using var closed = new ClosedPort();
        var failure = await FailureOf($"http://127.0.0.1:{closed.Port}/");
        Assert.Equal("connection refused: nothing listens there", NetworkFailure.Describe(failure));
    }

    [Fact]
    public async Task A_peer_that_hangs_up_after_the_request_closed_before_a_whole_answer()
    {
        var failure = await Served(async stream => await ReadHeadAsync(stream));
        Assert.Equal("the connection closed before a whole answer came", NetworkFailure.Describe(failure));
    }

    [Fact]
    public async Task A_peer_that_answers_garbage_is_not_http()
    {
        var failure = await Served(async stream =>
        {
            await ReadHeadAsync(stream);
            await stream.WriteAsync(Encoding.ASCII.GetBytes("SSH-2.0-OpenSSH_9.6\r\n\r\n"));
        });
        Assert.Equal("the answer is not HTTP", NetworkFailure.Describe(failure));
    }

    [Fact]
    public async Task A_peer_that_never_answers_gave_no_answer_in_time()
    {
        var failure = await Served(async stream =>
        {
            await ReadHeadAsync(stream);
            await Task.Delay(TimeSpan.FromSeconds(3));
        }, TimeSpan.FromMilliseconds(300));
        Assert.IsType<TaskCanceledException>(failure);
        Assert.Equal("no answer in time", NetworkFailure.Describe(failure));
    }

    [Fact]
    public void Unknown_failures_keep_their_own_words_as_a_clause()
    {
        Assert.Equal("disk on fire", NetworkFailure.Describe(new IOException("disk on fire.")));
        Assert.Equal("the request could not be sent", NetworkFailure.Describe(new HttpRequestException("An error occurred while sending the request.")));
        Assert.Equal("no route to the host", NetworkFailure.Describe(new HttpRequestException("x", new SocketException((int)SocketError.HostUnreachable))));
    }

    /// <summary>
    /// The failure of a GET to a listener that treats every connection with <paramref name="behave"/>: every one, as
    /// SocketsHttpHandler sends a request again on a new connection when one closes before any answer.
    /// </summary>
    private static async Task<Exception> Served(Func<NetworkStream, Task> behave, TimeSpan? timeout = null)
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        using var stop = new CancellationTokenSource();
        var serve = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                using var client = await listener.AcceptTcpClientAsync(stop.Token);
                await behave(client.GetStream());
            }
        });
        var failure = await FailureOf($"http://127.0.0.1:{port}/", timeout);
        await stop.CancelAsync();
        await serve.ContinueWith(_ => { }, TaskScheduler.Default);
        return failure;
    }

    private static async Task<Exception> FailureOf(string url, TimeSpan? timeout = null)
    {
        using var http = new HttpClient { Timeout = timeout ?? TimeSpan.FromSeconds(10) };
        return await Assert.ThrowsAnyAsync<Exception>(() => http.GetAsync(url));
    }

    private static async Task ReadHeadAsync(NetworkStream stream)
    {
        var buffer = new byte[4096];
        var head = new StringBuilder();
        while (!head.ToString().Contains("\r\n\r\n", StringComparison.Ordinal))
        {
            var n = await stream.ReadAsync(buffer);
            if (n == 0) return;
            head.Append(Encoding.ASCII.GetString(buffer, 0, n));
        }
    }
}
