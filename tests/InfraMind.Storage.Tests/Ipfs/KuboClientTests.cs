using InfraMind.Storage.Ipfs;
using InfraMind.Testing;
using Microsoft.AspNetCore.Builder;
using Xunit.Abstractions;

namespace InfraMind.Storage.Tests.Ipfs;

/// <summary>KuboClient against a real js-ipfs daemon (tests/peers/ipfs), cross-checked with ipfs-only-hash (tests/peers/cid).</summary>
public sealed class KuboClientTests(IpfsPeerFixture fixture, ITestOutputHelper output) : IClassFixture<IpfsPeerFixture>
{
    [SkippableFact]
    public async Task A_large_file_adds_and_comes_back_verified()
    {
        var peer = await fixture.Peer.GetAsync();
        // 174 full leaves and one more: the first size whose tree needs a second level of parents.
        var path = CidPeer.CreateFile(fixture.Files.Combine("large"), 174L * 262144 + 1, seed: 11);
        var options = UnixFsOptions.KuboCidV1 with { WrapName = "image.tar" };
        using var client = new KuboClient(peer.Api);
        var watch = System.Diagnostics.Stopwatch.StartNew();
        UnixFsResult added;
        await using (var file = File.OpenRead(path))
        {
            added = await client.AddAsync(file, "image.tar", options, null, CancellationToken.None);
        }

        var addTime = watch.Elapsed;
        var independent = await CidPeer.ComputeAsync(path, "image.tar");
        Assert.Equal(independent.V1Wrap, added.Root.ToString());
        using var gateway = new IpfsGatewayClient();
        var target = fixture.Files.Combine("large-out", "image.tar");
        watch.Restart();
        await gateway.FetchToFileAsync(peer.Gateway, added.Root, options, target, CancellationToken.None);
        output.WriteLine($"{added.FileSize} B: add {addTime.TotalSeconds:0.00} s, gateway fetch {watch.Elapsed.TotalSeconds:0.00} s");
        Assert.Equal(added.FileSize, new FileInfo(target).Length);
    }

    public static TheoryData<long, int, bool> Cases()
    {
        var data = new TheoryData<long, int, bool>();
        foreach (long size in new long[] { 0, 1, 262144, 262145, 3 * 262144 + 7 })
        {
            foreach (int version in new[] { 0, 1 })
            {
                data.Add(size, version, false);
                data.Add(size, version, true);
            }
        }

        return data;
    }

    [SkippableFact]
    public async Task Version_answers()
    {
        var peer = await fixture.Peer.GetAsync();
        using var client = new KuboClient(peer.Api);
        var version = await client.VersionAsync(CancellationToken.None);
        Assert.False(string.IsNullOrEmpty(version.Version));
        output.WriteLine($"js-ipfs {version.Version} initialised in {peer.InitTime.TotalSeconds:0.00} s, started in {peer.StartTime.TotalSeconds:0.00} s (pid {peer.ProcessId})");
    }

    [SkippableTheory]
    [MemberData(nameof(Cases))]
    public async Task Add_gives_the_local_CID_and_the_one_of_an_independent_importer(long size, int cidVersion, bool wrap)
    {
        var peer = await fixture.Peer.GetAsync();
        var path = CidPeer.CreateFile(fixture.Files.Combine($"add-{size}-{cidVersion}-{wrap}"), size);
        var options = (cidVersion == 1 ? UnixFsOptions.KuboCidV1 : UnixFsOptions.KuboDefault) with { WrapName = wrap ? "image.tar" : null };
        using var client = new KuboClient(peer.Api);
        long reported = -1;
        UnixFsResult added;
        await using (var file = File.OpenRead(path))
        {
            added = await client.AddAsync(file, "image.tar", options, new SyncProgress(b => reported = b), CancellationToken.None);
        }

        await using (var again = File.OpenRead(path))
        {
            Assert.Equal((await UnixFsImporter.ComputeAsync(again, options, CancellationToken.None)).Root, added.Root);
        }

        Assert.Equal(size, added.FileSize);
        Assert.Equal(size == 0 ? -1 : size, reported);
        var independent = await CidPeer.ComputeAsync(path, "image.tar");
        var expected = (cidVersion, wrap) switch
        {
            (0, false) => independent.V0,
            (1, false) => independent.V1,
            (0, true) => independent.V0Wrap,
            _ => independent.V1Wrap,
        };
        Assert.Equal(expected, added.Root.ToString());

        // And back: through the RPC API and through the node's gateway, verified and byte-equal.
        var viaRpc = new MemoryStream();
        await client.FetchAsync(added.Root, options, viaRpc, CancellationToken.None);
        Assert.Equal(await File.ReadAllBytesAsync(path), viaRpc.ToArray());

        using var gateway = new IpfsGatewayClient();
        var viaGateway = new MemoryStream();
        await gateway.FetchAsync(peer.Gateway, added.Root, options.WrapName, viaGateway, CancellationToken.None);
        Assert.Equal(await File.ReadAllBytesAsync(path), viaGateway.ToArray());
    }

    [SkippableFact]
    public async Task Cat_streams_the_content_and_a_file_lands_only_once_verified()
    {
        var peer = await fixture.Peer.GetAsync();
        var path = CidPeer.CreateFile(fixture.Files.Combine("cat"), 600_000, seed: 7);
        using var client = new KuboClient(peer.Api);
        UnixFsResult added;
        await using (var file = File.OpenRead(path))
        {
            added = await client.AddAsync(file, "model.bin", UnixFsOptions.KuboCidV1 with { WrapName = "model.bin" }, null, CancellationToken.None);
        }

        await using (var cat = await client.CatAsync(added.Root, "model.bin", CancellationToken.None))
        {
            var copy = new MemoryStream();
            await cat.CopyToAsync(copy);
            Assert.Equal(await File.ReadAllBytesAsync(path), copy.ToArray());
        }

        var target = fixture.Files.Combine("pulled", "model.bin");
        await client.FetchToFileAsync(added.Root, UnixFsOptions.KuboCidV1 with { WrapName = "model.bin" }, target, CancellationToken.None);
        Assert.Equal(await File.ReadAllBytesAsync(path), await File.ReadAllBytesAsync(target));

        // The same bytes under settings that make another CID: refused, and nothing is left on disk.
        var wrong = fixture.Files.Combine("pulled", "wrong.bin");
        var e = await Assert.ThrowsAsync<CidMismatchException>(() =>
            client.FetchToFileAsync(added.Root, UnixFsOptions.KuboCidV1 with { WrapName = "model.bin", ChunkSize = 1024 }, wrong, CancellationToken.None));
        Assert.Equal("IM4102", e.Code);
        Assert.False(File.Exists(wrong));
        Assert.Single(Directory.GetFiles(fixture.Files.Combine("pulled")));
    }

    [Fact]
    public async Task An_unreachable_node_says_how_to_start_one()
    {
        using var closed = new ClosedPort();
        int port = closed.Port;
        using var client = new KuboClient(new Uri($"http://127.0.0.1:{port}"));
        var e = await Assert.ThrowsAsync<IpfsException>(() => client.VersionAsync(CancellationToken.None));
        Assert.Equal("IM4104", e.Code);
        Assert.Contains("ipfs daemon", e.Message, StringComparison.Ordinal);
        Assert.Contains($"127.0.0.1:{port}", e.Message, StringComparison.Ordinal);
        var add = await Assert.ThrowsAsync<IpfsException>(() => client.AddAsync(new MemoryStream([1, 2, 3]), "x", UnixFsOptions.KuboDefault, null, CancellationToken.None));
        Assert.Equal("IM4104", add.Code);
    }

    [Fact]
    public async Task A_node_that_names_another_CID_is_not_believed()
    {
        await using var liar = await LocalServer.StartAsync(app => app.MapPost("/api/v0/add", async (Microsoft.AspNetCore.Http.HttpRequest request) =>
        {
            await request.Body.CopyToAsync(Stream.Null);
            return Microsoft.AspNetCore.Http.Results.Text(
                "{\"Name\":\"x\",\"Hash\":\"QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o\",\"Size\":\"20\"}\n", "application/json");
        }));
        using var client = new KuboClient(liar.Address);
        var e = await Assert.ThrowsAsync<IpfsException>(() => client.AddAsync(new MemoryStream([1, 2, 3]), "x", UnixFsOptions.KuboDefault, null, CancellationToken.None));
        Assert.Equal("IM4108", e.Code);
        Assert.Contains("QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Answers_that_are_not_the_RPC_API_are_clear_errors()
    {
        await using var other = await LocalServer.StartAsync(app =>
        {
            app.MapPost("/api/v0/version", () => Microsoft.AspNetCore.Http.Results.Text("<html>hello</html>", "text/html"));
            app.MapPost("/api/v0/add", async (Microsoft.AspNetCore.Http.HttpRequest request) =>
            {
                await request.Body.CopyToAsync(Stream.Null);
                return Microsoft.AspNetCore.Http.Results.Json(new { Message = "repo full", Code = 0, Type = "error" }, statusCode: 500);
            });
        });
        using var client = new KuboClient(other.Address);
        var version = await Assert.ThrowsAsync<IpfsException>(() => client.VersionAsync(CancellationToken.None));
        Assert.Equal("IM4106", version.Code);
        var add = await Assert.ThrowsAsync<IpfsException>(() => client.AddAsync(new MemoryStream([1]), "x", UnixFsOptions.KuboDefault, null, CancellationToken.None));
        Assert.Equal("IM4105", add.Code);
        Assert.Contains("500", add.Message, StringComparison.Ordinal);
        Assert.Contains("repo full", add.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_source_that_stops_delivering_fails_the_add_with_the_stall_code()
    {
        await using var sink = await LocalServer.StartAsync(app => app.MapPost("/api/v0/add", async (Microsoft.AspNetCore.Http.HttpRequest request) =>
        {
            await request.Body.CopyToAsync(Stream.Null);
            return Microsoft.AspNetCore.Http.Results.Ok();
        }));
        using var client = new KuboClient(sink.Address) { StallTimeout = TimeSpan.FromMilliseconds(300) };
        var e = await Assert.ThrowsAsync<IpfsException>(() => client.AddAsync(new HangingStream(), "image.tar", UnixFsOptions.KuboDefault, null, CancellationToken.None));
        Assert.Equal("IM4107", e.Code);
        Assert.Contains("image.tar", e.Message, StringComparison.Ordinal);
    }

    /// <summary>Gives 10 bytes, then never anything more (a pipe whose writer hangs).</summary>
    private sealed class HangingStream : MemoryStream
    {
        private bool _gave;

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            if (!_gave)
            {
                _gave = true;
                return 10;
            }

            await Task.Delay(Timeout.Infinite, cancellationToken);
            return 0;
        }
    }

    /// <summary>Progress&lt;T&gt; posts to the thread pool; the test wants the last value when AddAsync returns.</summary>
    private sealed class SyncProgress(Action<long> report) : IProgress<long>
    {
        public void Report(long value) => report(value);
    }
}
