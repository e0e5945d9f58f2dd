using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using InfraMind.Node.Images;
using InfraMind.Testing;
using Xunit.Abstractions;

namespace InfraMind.Cli.Tests;

/// <summary>
/// SPEC.md's flow on a chain: `infra mesh up --registry eth://…` follows a dev chain, a publish recorded on it becomes a
/// 200 through the gateway within seconds of its confirmation, and a yank makes the gateway stop serving it.
/// </summary>
[Collection(EngineTests.Name)]
public sealed class ChainMeshTests(DevChainFixture chain, ITestOutputHelper output) : IClassFixture<DevChainFixture>, IDisposable
{
    private readonly CliRunner _cli = new();

    public void Dispose() => _cli.Dispose();

    [SkippableFact]
    public async Task Chain_publish_is_served_through_the_gateway_and_a_yank_stops_it()
    {
        var peer = await chain.PeerAsync();
        using var engine = await TestEngine.ConnectAsync();
        var home = _cli.Home;
        var (package, reference, registry) = await SetUpAsync(peer);

        // Port 0, the gateway's address read from what mesh up prints: a port picked free beforehand may be taken by then.
        using var mesh = Process.Start(InfraProcess.StartInfo(home, "mesh", "up", "--registry", registry, "--nodes", "1", "--port", "0", "--grpc-port", "0", "--json"))!;
        var meshErr = mesh.StandardError.ReadToEndAsync();
        try
        {
            var up = JsonDocument.Parse(await ReadLineAsync(mesh, meshErr) + await ReadJsonRestAsync(mesh)).RootElement;
            Assert.Equal(registry, up.GetProperty("registry").GetString());
            Assert.False(File.Exists(Path.Combine(home, "run", "registry.url")), "no log registry starts beside a chain");
            var gatewayUrl = new Uri(up.GetProperty("gateway").GetString()!);
            using var http = new HttpClient { BaseAddress = gatewayUrl, Timeout = TimeSpan.FromSeconds(30) };
            using (var before = await http.PostAsJsonAsync("inference/v1/chain-mesh", new { text = "x" }))
                Assert.Equal(HttpStatusCode.NotFound, before.StatusCode);

            var published = await InfraProcess.JsonAsync(home, 0, "publish", "--model", Path.Combine(package, "model.yaml"), "--image", reference,
                "--registry", registry, "--key", "deployer", "--payer", "payer");
            // The receipt is the confirmation (depth 0 on a dev chain): from here to the first 200 is the mesh's part.
            var confirmed = Stopwatch.StartNew();
            Assert.Equal(new Uri(gatewayUrl, "inference/v1/chain-mesh").ToString(), published.GetProperty("endpoint").GetString());
            await UntilAsync(http, HttpStatusCode.OK, TimeSpan.FromSeconds(90), [HttpStatusCode.NotFound, HttpStatusCode.ServiceUnavailable]);
            output.WriteLine($"confirmed publish -> first 200 through the gateway: {confirmed.ElapsedMilliseconds} ms");
            using (var answer = await http.PostAsJsonAsync("inference/v1/chain-mesh", new { text = "hello chain" }))
            {
                Assert.Equal(HttpStatusCode.OK, answer.StatusCode);
                Assert.Equal("hello chain", JsonDocument.Parse(await answer.Content.ReadAsStringAsync()).RootElement.GetProperty("summary").GetString());
            }

            var state = JsonDocument.Parse(await http.GetStringAsync("inference/v1")).RootElement;
            Assert.Contains("chain-mesh", state.GetRawText(), StringComparison.Ordinal);
            Assert.True(File.Exists(Path.Combine(home, "chain", $"1337-{registry[(registry.LastIndexOf('/') + 1)..registry.IndexOf('?', StringComparison.Ordinal)]}", "mesh", "chain-index.sqlite")),
                "the follower keeps its progress under $INFRAMIND_HOME/chain");

            // The owner yanks it: the follower drops it and the gateway stops serving it.
            Assert.Equal(0, (await InfraProcess.RunAsync(home, "chain", "yank", "chain-mesh@1.0.0", "--registry", registry, "--key", "deployer", "--payer", "payer")).Code);
            var yanked = Stopwatch.StartNew();
            await UntilAsync(http, HttpStatusCode.NotFound, TimeSpan.FromSeconds(30), [HttpStatusCode.OK]);
            output.WriteLine($"confirmed yank -> 404: {yanked.ElapsedMilliseconds} ms");
        }
        finally
        {
            if (!mesh.HasExited) Assert.Equal(0, InfraProcess.Signal(mesh.Id, 15));
            await mesh.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(60));
        }

        Assert.True(mesh.ExitCode is 0 or 130, await meshErr);
        var leftovers = await engine.PruneAsync(new Dictionary<string, string> { ["org.inframind.model"] = "chain-mesh@1.0.0" }, null, CancellationToken.None);
        Assert.Empty(leftovers.Containers);
    }

    /// <summary>
    /// Also what a node keeps of a stranger's image: the image leaves the engine after the push, so the node loads it
    /// from the store itself (nameless, as from any publish) and names it; once the version is yanked, a node with
    /// <c>--image-cache 0</c> lets it go.
    /// </summary>
    [SkippableFact]
    public async Task Gateway_serve_and_node_serve_follow_a_chain_as_separate_processes()
    {
        var peer = await chain.PeerAsync();
        using var engine = await TestEngine.ConnectAsync();
        var home = _cli.Home;
        var (package, reference, registry) = await SetUpAsync(peer);
        var imageId = (await engine.InspectImageAsync("chain-mesh:1.0.0", CancellationToken.None))!.Id;
        Assert.True(await TestEngine.RemoveImageAsync(engine, "chain-mesh:1.0.0"));
        Assert.False(await engine.ImageExistsAsync(imageId, CancellationToken.None));
        var processes = new List<Process>();
        try
        {
            var gateway = Process.Start(InfraProcess.StartInfo(home, "gateway", "serve", "--registry", registry, "--port", "0", "--grpc-port", "0", "--json"))!;
            processes.Add(gateway);
            var announced = JsonDocument.Parse(await ReadLineAsync(gateway, Task.FromResult("")) + await ReadJsonRestAsync(gateway)).RootElement;
            Assert.Equal(registry, announced.GetProperty("registry").GetString());
            Assert.Equal(JsonValueKind.Null, announced.GetProperty("registryKey").ValueKind);
            var gatewayUrl = new Uri(announced.GetProperty("gateway").GetString()!);
            var node = Process.Start(InfraProcess.StartInfo(home, "node", "serve", "--gateway", gatewayUrl.ToString(), "--id", "chain-node", "--registry", registry, "--allow-local-references", "--image-cache", "0", "--json"))!;
            processes.Add(node);
            var joined = JsonDocument.Parse(await ReadLineAsync(node, Task.FromResult("")) + await ReadJsonRestAsync(node)).RootElement;
            Assert.True(joined.GetProperty("registered").GetBoolean());

            Assert.Equal(0, (await InfraProcess.RunAsync(home, "publish", "--model", Path.Combine(package, "model.yaml"), "--image", reference,
                "--registry", registry, "--key", "deployer", "--payer", "payer")).Code);
            using var http = new HttpClient { BaseAddress = gatewayUrl, Timeout = TimeSpan.FromSeconds(30) };
            await UntilAsync(http, HttpStatusCode.OK, TimeSpan.FromSeconds(90), [HttpStatusCode.NotFound, HttpStatusCode.ServiceUnavailable]);
            var contract = registry[(registry.LastIndexOf('/') + 1)..registry.IndexOf('?', StringComparison.Ordinal)];
            Assert.True(Directory.Exists(Path.Combine(home, "chain", $"1337-{contract}", "gateway")));
            Assert.False(Directory.Exists(Path.Combine(home, "chain", $"1337-{contract}", "node-chain-node")), "a node verifies each assignment and follows nothing");
            Assert.Equal([ImageRetention.NameOf("chain-node", imageId)], (await engine.InspectImageAsync(imageId, CancellationToken.None))!.Tags);

            // Yanked: no gateway places it, the node stops it and, keeping no unused image, lets the image go.
            Assert.Equal(0, (await InfraProcess.RunAsync(home, "chain", "yank", "chain-mesh@1.0.0", "--registry", registry, "--key", "deployer", "--payer", "payer")).Code);
            await UntilAsync(http, HttpStatusCode.NotFound, TimeSpan.FromSeconds(30), [HttpStatusCode.OK]);
            var yanked = Stopwatch.StartNew();
            while (await engine.ImageExistsAsync(imageId, CancellationToken.None))
            {
                Assert.True(yanked.Elapsed < TimeSpan.FromSeconds(30), "the node kept the image of a yanked version with --image-cache 0");
                await Task.Delay(200);
            }

            output.WriteLine($"404 after the yank -> image gone from the node's engine: {yanked.ElapsedMilliseconds} ms");
        }
        finally
        {
            foreach (var p in Enumerable.Reverse(processes))
            {
                if (!p.HasExited) Assert.Equal(0, InfraProcess.Signal(p.Id, 15));
                await p.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(60));
                p.Dispose();
            }

            // Where the node did not let go (a failure above), its name would keep the image.
            await TestEngine.RemoveTestImagesAsync(engine, ImageRetention.NameOf("chain-node", imageId));
        }

        var leftovers = await engine.PruneAsync(new Dictionary<string, string> { ["org.inframind.model"] = "chain-mesh@1.0.0" }, null, CancellationToken.None);
        Assert.Empty(leftovers.Containers);
    }

    /// <summary>The model built and pushed to the local store, a funded payer key, a secp256k1 deployer key and a registry deployed on the chain.</summary>
    private async Task<(string Package, string Reference, string Registry)> SetUpAsync(ChainPeer peer)
    {
        var home = _cli.Home;
        var package = BrokenModel.Create(Path.Combine(_cli.Work, "echo"), "chain-mesh");
        Assert.Equal(0, (await InfraProcess.RunAsync(home, "build", package)).Code);
        var reference = (await InfraProcess.JsonAsync(home, 0, "push", "--image", "chain-mesh:1.0.0", "--to", "local")).GetProperty("reference").GetString()!;
        var keyFile = Path.Combine(_cli.Work, "payer.hex");
        await File.WriteAllTextAsync(keyFile, peer.Keys[1]);
        Assert.Equal(0, (await InfraProcess.RunAsync(home, "keys", "import", "--name", "payer", "--private-key-file", keyFile)).Code);
        Assert.Equal(0, (await InfraProcess.RunAsync(home, "keys", "generate", "--name", "deployer", "--type", "secp256k1")).Code);
        var registry = (await InfraProcess.JsonAsync(home, 0, "chain", "deploy", "--rpc", peer.Rpc.ToString(), "--payer", "payer")).GetProperty("registry").GetString()!;
        return (package, reference, registry);
    }

    /// <summary>Posts until the answer is <paramref name="want"/>; any status but those <paramref name="meanwhile"/> allows fails at once.</summary>
    private static async Task UntilAsync(HttpClient http, HttpStatusCode want, TimeSpan limit, HttpStatusCode[] meanwhile)
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            using var answer = await http.PostAsJsonAsync("inference/v1/chain-mesh", new { text = "hello chain" });
            if (answer.StatusCode == want) return;
            Assert.True(meanwhile.Contains(answer.StatusCode), $"{(int)answer.StatusCode}: {await answer.Content.ReadAsStringAsync()}");
            Assert.True(clock.Elapsed < limit, $"no {(int)want} within {limit.TotalSeconds} s (last {(int)answer.StatusCode})");
            await Task.Delay(50);
        }
    }

    private static async Task<string> ReadLineAsync(Process p, Task<string> stderr)
    {
        using var limit = new CancellationTokenSource(TimeSpan.FromSeconds(90));
        var line = await p.StandardOutput.ReadLineAsync(limit.Token);
        return line ?? throw new Xunit.Sdk.XunitException("mesh up exited before it was up: " + await stderr);
    }

    /// <summary>The rest of the JSON object mesh up prints once up (indented: it ends with a line holding only '}').</summary>
    private static async Task<string> ReadJsonRestAsync(Process p)
    {
        var text = new System.Text.StringBuilder();
        using var limit = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        while (await p.StandardOutput.ReadLineAsync(limit.Token) is { } line)
        {
            text.AppendLine(line);
            if (line == "}") break;
        }

        return text.ToString();
    }
}
