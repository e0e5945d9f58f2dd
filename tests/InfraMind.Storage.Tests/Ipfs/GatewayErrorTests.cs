using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using InfraMind.Storage.Ipfs;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace InfraMind.Storage.Tests.Ipfs;

/// <summary>
/// A gateway's error answer (IM4105) is shown as its status and the start of its body, and the body is a stranger's:
/// at most <see cref="VerifiedDownload.MaxErrorBodyBytes"/> read, for at most the stall timeout in all, its control
/// characters escaped, its first <see cref="VerifiedDownload.MaxErrorBodyChars"/> characters shown.
/// </summary>
public sealed class GatewayErrorTests
{
    private static readonly Cid Root = Cid.Parse("QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o");

    private static async Task<IpfsException> FailAsync(RequestDelegate answer, TimeSpan? stall = null)
    {
        await using var server = await LocalServer.StartAsync(app => app.MapGet("/ipfs/{cid}", answer));
        using var client = new IpfsGatewayClient { StallTimeout = stall ?? TimeSpan.FromSeconds(30) };
        var e = await Assert.ThrowsAsync<IpfsException>(() => client.FetchAsync(server.Address, Root, (string?)null, Stream.Null, CancellationToken.None))
            .WaitAsync(TimeSpan.FromSeconds(20));
        Assert.Equal("IM4105", e.Code);
        return e;
    }

    [Fact]
    public async Task An_endless_error_body_is_read_no_further_than_its_limit()
    {
        // A raw socket, not Kestrel: Kestrel completes writes to a connection the client has closed as no-ops, so a count
        // of its writes races on to the end once the client hangs up. A socket's send fails once the peer is gone, so what
        // it accepted is what the client read, give or take the kernel's buffers (a few MiB on loopback).
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var serving = Task.Run(async () =>
        {
            using var peer = await listener.AcceptTcpClientAsync();
            var stream = peer.GetStream();
            _ = await stream.ReadAsync(new byte[64 * 1024]);
            await stream.WriteAsync(Encoding.ASCII.GetBytes("HTTP/1.1 502 Bad Gateway\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\n"));
            var chunk = new byte[64 * 1024];
            Array.Fill(chunk, (byte)'x');
            long sent = 0;
            try
            {
                while (sent < 256L << 20)
                {
                    await stream.WriteAsync(chunk);
                    sent += chunk.Length;
                }
            }
            catch (IOException)
            {
                // the client hung up: what the socket took so far is what it read, and the kernel's buffers
            }

            return sent;
        });
        using var client = new IpfsGatewayClient();
        var address = new Uri($"http://127.0.0.1:{((IPEndPoint)listener.LocalEndpoint).Port}/");
        var e = await Assert.ThrowsAsync<IpfsException>(() => client.FetchAsync(address, Root, (string?)null, Stream.Null, CancellationToken.None))
            .WaitAsync(TimeSpan.FromSeconds(60));
        long taken = await serving.WaitAsync(TimeSpan.FromSeconds(60));
        Assert.Equal("IM4105", e.Code);
        Assert.Contains("answered 502 Bad Gateway: " + new string('x', VerifiedDownload.MaxErrorBodyChars) + "…", e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(new string('x', VerifiedDownload.MaxErrorBodyChars + 1), e.Message, StringComparison.Ordinal);
        Assert.True(taken < 16L << 20, $"the client took {taken} bytes of the error body");
    }

    [Fact]
    public async Task An_error_body_is_shown_whole_to_300_characters_and_cut_after()
    {
        string at = new('a', VerifiedDownload.MaxErrorBodyChars);
        var e = await FailAsync(http =>
        {
            http.Response.StatusCode = 500;
            return http.Response.WriteAsync("  " + at + "\n");
        });
        Assert.EndsWith("answered 500 Internal Server Error: " + at, e.Message, StringComparison.Ordinal);

        e = await FailAsync(http =>
        {
            http.Response.StatusCode = 500;
            return http.Response.WriteAsync(at + "b");
        });
        Assert.EndsWith(": " + at + "…", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_empty_error_body_shows_the_status_alone()
    {
        var e = await FailAsync(http =>
        {
            http.Response.StatusCode = 404;
            return Task.CompletedTask;
        });
        Assert.EndsWith("answered 404 Not Found", e.Message, StringComparison.Ordinal);
        Assert.Contains("does not have this content", e.Hint, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_error_body_that_stalls_is_shown_as_far_as_it_came_within_the_stall_timeout()
    {
        var clock = Stopwatch.StartNew();
        var e = await FailAsync(
            async http =>
            {
                http.Response.StatusCode = 500;
                await http.Response.WriteAsync("disk on fire");
                await http.Response.Body.FlushAsync();
                await Task.Delay(TimeSpan.FromSeconds(15), http.RequestAborted);
            },
            stall: TimeSpan.FromMilliseconds(300));
        Assert.EndsWith("answered 500 Internal Server Error: disk on fire", e.Message, StringComparison.Ordinal);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(10), $"the error took {clock.Elapsed}");
    }

    [Fact]
    public async Task An_error_body_cannot_reach_the_terminal()
    {
        var e = await FailAsync(http =>
        {
            http.Response.StatusCode = 403;
            return http.Response.WriteAsync("\u001b]0;owned\u0007\r\nred");
        });
        Assert.DoesNotContain('\u001b', e.Message);
        Assert.DoesNotContain('\r', e.Message);
        Assert.Contains("\\u001B]0;owned\\u0007\\u000D\\u000Ared", e.Message, StringComparison.Ordinal);
        Assert.Contains("refuses this client", e.Hint, StringComparison.Ordinal);
    }
}
