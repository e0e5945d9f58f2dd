using System.Net;
using InfraMind.Storage.Ipfs;
using InfraMind.Testing;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace InfraMind.Storage.Tests.Ipfs;

/// <summary>
/// The local store as a gateway (IpfsGatewayEndpoints on real Kestrel), and IpfsGatewayClient against it and against
/// gateways that lie: a flipped byte, a cut body, a 500, a stall.
/// </summary>
public sealed class GatewayTests : IDisposable
{
    private readonly TempDirectory _dir = new("im-gateway");

    public void Dispose() => _dir.Dispose();

    [Theory]
    [InlineData(0, 0, null)]
    [InlineData(1, 1, null)]
    [InlineData(262145, 0, "image.tar")]
    [InlineData(700_001, 1, "image.tar")]
    public async Task The_store_serves_what_the_client_verifies(long size, int cidVersion, string? wrap)
    {
        var path = CidPeer.CreateFile(_dir.Combine("content"), size);
        var options = (cidVersion == 1 ? UnixFsOptions.KuboCidV1 : UnixFsOptions.KuboDefault) with { WrapName = wrap };
        var lookup = new InMemoryBlobLookup();
        var added = await lookup.AddFileAsync(path, options, CancellationToken.None);
        await using var server = await LocalServer.StartAsync(app => IpfsGatewayEndpoints.Map(app, lookup));
        using var client = new IpfsGatewayClient();

        var target = _dir.Combine("out", "image.tar");
        var fetched = await client.FetchToFileAsync(server.Address, added.Root, options, target, CancellationToken.None);
        Assert.Equal(added.Root, fetched.Root);
        Assert.Equal(await File.ReadAllBytesAsync(path), await File.ReadAllBytesAsync(target));

        var viaShortForm = new MemoryStream();
        await client.FetchAsync(server.Address, added.Root, wrap, viaShortForm, CancellationToken.None);
        Assert.Equal(size, viaShortForm.Length);
    }

    [Fact]
    public async Task The_store_answers_like_a_gateway()
    {
        var path = CidPeer.CreateFile(_dir.Combine("content"), 1000);
        var lookup = new InMemoryBlobLookup();
        var added = await lookup.AddFileAsync(path, UnixFsOptions.KuboCidV1 with { WrapName = "image.tar" }, CancellationToken.None);
        await using var server = await LocalServer.StartAsync(app => IpfsGatewayEndpoints.Map(app, lookup));
        using var http = new HttpClient { BaseAddress = server.Address };

        using var request = new HttpRequestMessage(HttpMethod.Get, $"/ipfs/{added.Root}/image.tar");
        request.Headers.Range = new System.Net.Http.Headers.RangeHeaderValue(10, 19);
        using var range = await http.SendAsync(request);
        Assert.Equal(HttpStatusCode.PartialContent, range.StatusCode);
        Assert.Equal((await File.ReadAllBytesAsync(path))[10..20], await range.Content.ReadAsByteArrayAsync());
        Assert.Equal($"\"{added.File}\"", range.Headers.ETag?.Tag);
        Assert.Contains("immutable", range.Headers.CacheControl?.ToString() ?? "", StringComparison.Ordinal);

        using var head = await http.SendAsync(new HttpRequestMessage(HttpMethod.Head, $"/ipfs/{added.File}"));
        Assert.Equal(HttpStatusCode.OK, head.StatusCode);
        Assert.Equal(1000, head.Content.Headers.ContentLength);

        using var missing = await http.GetAsync($"/ipfs/{added.Root}/other.tar");
        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
        using var invalid = await http.GetAsync("/ipfs/not-a-cid");
        Assert.Equal(HttpStatusCode.BadRequest, invalid.StatusCode);
        Assert.Contains("IM4101", await invalid.Content.ReadAsStringAsync(), StringComparison.Ordinal);

        using var client = new IpfsGatewayClient();
        var e = await Assert.ThrowsAsync<IpfsException>(() => client.FetchAsync(server.Address, added.Root, "other.tar", Stream.Null, CancellationToken.None));
        Assert.Equal("IM4105", e.Code);
        Assert.Contains("404", e.Message, StringComparison.Ordinal);
    }

    public static TheoryData<string, string> Tampering() => new()
    {
        { "flip", "IM4102" },
        { "cut", "IM4102" },
        { "short", "IM4106" },
        { "longer", "IM4102" },
        { "fail", "IM4105" },
        { "stall", "IM4107" },
        { "silent", "IM4107" },
    };

    [Theory]
    [MemberData(nameof(Tampering))]
    public async Task A_tampering_gateway_is_caught_and_nothing_is_kept(string mode, string code)
    {
        var path = CidPeer.CreateFile(_dir.Combine("content"), 300_000, seed: 3);
        var original = await File.ReadAllBytesAsync(path);
        var options = UnixFsOptions.KuboCidV1 with { WrapName = "image.tar" };
        UnixFsResult expected;
        await using (var f = File.OpenRead(path)) expected = await UnixFsImporter.ComputeAsync(f, options, CancellationToken.None);

        await using var server = await LocalServer.StartAsync(app => app.MapGet("/{mode}/ipfs/{cid}/{name}", async (string mode, HttpContext http) =>
        {
            var body = original.ToArray();
            switch (mode)
            {
                case "flip":
                    body[body.Length / 2] ^= 0x01;
                    break;
                case "cut":
                    body = body[..^1];
                    break;
                case "fail":
                    http.Response.StatusCode = 500;
                    await http.Response.WriteAsync("disk on fire");
                    return;
                case "short":
                    // Announces the whole length, then hangs up early.
                    http.Response.ContentLength = body.Length;
                    await http.Response.Body.WriteAsync(body.AsMemory(0, body.Length / 2));
                    await http.Response.Body.FlushAsync();
                    http.Abort();
                    return;
                case "longer":
                    body = [.. body, 0x42];
                    break;
                case "stall":
                    await http.Response.Body.WriteAsync(body.AsMemory(0, 1000));
                    await http.Response.Body.FlushAsync();
                    await Task.Delay(TimeSpan.FromSeconds(10), http.RequestAborted);
                    return;
                case "silent":
                    await Task.Delay(TimeSpan.FromSeconds(10), http.RequestAborted);
                    return;
            }

            await http.Response.Body.WriteAsync(body);
        }));
        // Short limits only where running out of time is what is tested: a freshly started server on a loaded machine
        // can take longer than 500 ms to answer its first request, which must not turn a flipped byte into a timeout.
        using var client = mode is "stall" or "silent"
            ? new IpfsGatewayClient { StallTimeout = TimeSpan.FromMilliseconds(500), ResponseTimeout = TimeSpan.FromMilliseconds(500) }
            : new IpfsGatewayClient();
        var target = _dir.Combine("out", "image.tar");
        var e = await Assert.ThrowsAnyAsync<IpfsException>(() =>
            client.FetchToFileAsync(new Uri(server.Address, $"/{mode}/"), expected.Root, options, target, CancellationToken.None));
        Assert.Equal(code, e.Code);
        if (code == "IM4102")
        {
            var mismatch = Assert.IsType<CidMismatchException>(e);
            Assert.Equal(expected.Root, mismatch.Expected);
            Assert.NotNull(mismatch.Actual);
            Assert.Contains(expected.Root.ToString(), e.Message, StringComparison.Ordinal);
            Assert.Contains(mismatch.Actual!.ToString(), e.Message, StringComparison.Ordinal);
        }

        Assert.False(File.Exists(target));
        Assert.Empty(Directory.GetFiles(_dir.Combine("out")));
    }

    [Fact]
    public async Task An_unreachable_gateway_is_named()
    {
        using var closed = new ClosedPort();
        int port = closed.Port;
        using var client = new IpfsGatewayClient();
        var e = await Assert.ThrowsAsync<IpfsException>(() => client.FetchAsync(
            new Uri($"http://127.0.0.1:{port}"), Cid.Parse("QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o"), (string?)null, Stream.Null, CancellationToken.None));
        Assert.Equal("IM4104", e.Code);
        Assert.Contains($"127.0.0.1:{port}", e.Message, StringComparison.Ordinal);
    }
}
