using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using InfraMind.Testing;

namespace InfraMind.Cli.Tests;

/// <summary>
/// A node that pulls its image itself over `oci://` from the real docker-registry and over `ipfs://` from the real IPFS
/// node (#19 §2): registry, gateway and node each a separate `infra` process with a home of its own, so nothing is in
/// the node's store until the node fetched it. The registry's admission resolves the same real references (#19 §5).
/// </summary>
[Collection(EngineTests.Name)]
public sealed class MeshPullTests : IDisposable
{
    private readonly CliRunner _publisher = new();
    private readonly CliRunner _registryHome = new();
    private readonly CliRunner _gatewayHome = new();
    private readonly CliRunner _nodeHome = new();

    public void Dispose()
    {
        _publisher.Dispose();
        _registryHome.Dispose();
        _gatewayHome.Dispose();
        _nodeHome.Dispose();
    }

    [SkippableFact]
    public async Task A_node_pulls_what_it_serves_over_oci_and_over_ipfs_from_the_real_peers()
    {
        using var engine = await TestEngine.ConnectAsync();
        await using var oci = await RegistryPeer.StartAsync();
        await using var ipfs = await IpfsPeer.StartAsync();
        var ipfsApi = ipfs.Api.ToString();
        _publisher.Environment["INFRAMIND_IPFS_API"] = ipfsApi;
        var suffix = Guid.NewGuid().ToString("N")[..8];
        var viaOci = await BuildAndPushAsync($"pull-oci-{suffix}", $"oci://{oci.HostPort}/pull/oci-{suffix}");
        var viaIpfs = await BuildAndPushAsync($"pull-ipfs-{suffix}", $"ipfs://{ipfs.Api.Authority}");
        Assert.StartsWith("oci://", viaOci.Reference, StringComparison.Ordinal);
        Assert.StartsWith("ipfs://", viaIpfs.Reference, StringComparison.Ordinal);
        Assert.Equal(0, (await _publisher.RunAsync("keys", "generate")).Code);

        // Stopped (SIGTERM, they remove their containers) before the leftovers are counted below.
        await using (var serving = new ServingProcesses())
        {
            // Both peers listen on loopback: the registry and the node are told they may fetch from there.
            var registryPsi = InfraProcess.StartInfo(_registryHome.Home, "registry", "serve", "--port", "0", "--fetch-allow", "127.0.0.1", "--json");
            registryPsi.Environment["INFRAMIND_IPFS_API"] = ipfsApi;
            var registryUrl = (await serving.StartAsync(registryPsi)).GetProperty("registry").GetString()!;

            var gatewayUrl = new Uri((await serving.StartAsync(InfraProcess.StartInfo(_gatewayHome.Home, "gateway", "serve", "--registry", registryUrl, "--port", "0", "--json")))
                .GetProperty("gateway").GetString()!);

            var nodePsi = InfraProcess.StartInfo(_nodeHome.Home, "node", "serve", "--gateway", gatewayUrl.ToString(), "--id", "puller", "--registry", registryUrl,
                "--token-file", Path.Combine(_gatewayHome.Home, "mesh", "node-token"), "--fetch-allow", "127.0.0.1", "--json");
            nodePsi.Environment["INFRAMIND_IPFS_API"] = ipfsApi;
            Assert.True((await serving.StartAsync(nodePsi)).GetProperty("registered").GetBoolean());

            using var http = new HttpClient { BaseAddress = gatewayUrl, Timeout = TimeSpan.FromSeconds(30) };
            foreach (var (name, reference, digest) in new[] { viaOci, viaIpfs })
            {
                Assert.False(StoreHolds(_nodeHome.Home, digest), "the node's store held the image before it served it");
                var published = await _publisher.RunJsonAsync(0, "publish", "--model", Path.Combine(_publisher.Work, name, "model.yaml"), "--image", reference,
                    "--registry", registryUrl, "--json");
                Assert.Equal(digest, published.GetProperty("imageDigest").GetString());
                await UntilOkAsync(http, name, TimeSpan.FromSeconds(120));
                // Nothing but the node's own fetch of the signed reference puts the image into its store.
                Assert.True(StoreHolds(_nodeHome.Home, digest), $"the node served {name} without {digest} in its store");
            }
        }

        foreach (var (name, _, _) in new[] { viaOci, viaIpfs })
        {
            var leftovers = await engine.PruneAsync(new Dictionary<string, string> { ["org.inframind.model"] = $"{name}@1.0.0" }, null, CancellationToken.None);
            Assert.Empty(leftovers.Containers);
            await TestEngine.RemoveTestImagesAsync(engine, $"{name}:1.0.0");
        }
    }

    [SkippableFact]
    public async Task A_node_fetches_no_image_beyond_its_max_image_size_and_says_so()
    {
        using var engine = await TestEngine.ConnectAsync();
        await using var oci = await RegistryPeer.StartAsync();
        var suffix = Guid.NewGuid().ToString("N")[..8];
        var (name, reference, _) = await BuildAndPushAsync($"pull-cap-{suffix}", $"oci://{oci.HostPort}/pull/cap-{suffix}");
        Assert.Equal(0, (await _publisher.RunAsync("keys", "generate")).Code);

        // A usage error comes before anything starts.
        var bad = await _nodeHome.RunAsync("node", "serve", "--gateway", "http://127.0.0.1:9/", "--max-image-size", "lots", "--json");
        Assert.Equal(2, bad.Code);
        Assert.Contains("--max-image-size", bad.Out + bad.Err, StringComparison.Ordinal);

        await using (var serving = new ServingProcesses())
        {
            var registryUrl = (await serving.StartAsync(InfraProcess.StartInfo(_registryHome.Home, "registry", "serve", "--port", "0", "--fetch-allow", "127.0.0.1", "--json")))
                .GetProperty("registry").GetString()!;
            var gatewayUrl = new Uri((await serving.StartAsync(InfraProcess.StartInfo(_gatewayHome.Home, "gateway", "serve", "--registry", registryUrl, "--port", "0", "--json")))
                .GetProperty("gateway").GetString()!);
            // The image (a Python base and the model) is tens of MiB: over this node's 1 MiB.
            Assert.True((await serving.StartAsync(InfraProcess.StartInfo(_nodeHome.Home, "node", "serve", "--gateway", gatewayUrl.ToString(), "--id", "capped", "--registry", registryUrl,
                "--token-file", Path.Combine(_gatewayHome.Home, "mesh", "node-token"), "--fetch-allow", "127.0.0.1", "--max-image-size", "1Mi", "--json"))).GetProperty("registered").GetBoolean());
            var published = await _publisher.RunAsync("publish", "--model", Path.Combine(_publisher.Work, name, "model.yaml"), "--image", reference, "--registry", registryUrl, "--json");
            Assert.True(published.Code == 0, published.Out + published.Err);

            using var http = new HttpClient { BaseAddress = gatewayUrl, Timeout = TimeSpan.FromSeconds(30) };
            var clock = Stopwatch.StartNew();
            JsonElement node;
            while (true)
            {
                var state = JsonDocument.Parse(await http.GetStringAsync("inference/v1")).RootElement;
                var nodes = state.GetProperty("models").EnumerateArray().Where(m => m.GetProperty("name").GetString() == name)
                    .SelectMany(m => m.GetProperty("versions").EnumerateArray()).SelectMany(v => v.GetProperty("nodes").EnumerateArray()).ToList();
                if (nodes.Count == 1 && nodes[0].GetProperty("state").GetString() == "failed")
                {
                    node = nodes[0].Clone();
                    break;
                }

                Assert.True(clock.Elapsed < TimeSpan.FromSeconds(120), $"the node never failed the over-sized image: {state}");
                await Task.Delay(200);
            }

            Assert.Equal("image-unavailable", node.GetProperty("verdict").GetString());
            Assert.Contains("IM4214", node.GetProperty("detail").GetString(), StringComparison.Ordinal);
            Assert.Contains("1048576", node.GetProperty("detail").GetString(), StringComparison.Ordinal);
            using var refused = await http.PostAsJsonAsync($"inference/v1/{name}", new { text = "too big" });
            Assert.Equal(HttpStatusCode.ServiceUnavailable, refused.StatusCode);
        }

        var leftovers = await engine.PruneAsync(new Dictionary<string, string> { ["org.inframind.model"] = $"{name}@1.0.0" }, null, CancellationToken.None);
        Assert.Empty(leftovers.Containers);
        await TestEngine.RemoveTestImagesAsync(engine, $"{name}:1.0.0");
    }

    /// <summary>A fresh echo model built in the publisher's home and pushed to <paramref name="destination"/>; its pinned reference and image digest.</summary>
    private async Task<(string Name, string Reference, string Digest)> BuildAndPushAsync(string name, string destination)
    {
        var package = BrokenModel.Create(Path.Combine(_publisher.Work, name), name);
        var built = await _publisher.RunAsync("build", package);
        Assert.True(built.Code == 0, built.Out + built.Err);
        var pushed = await _publisher.RunJsonAsync(0, "push", "--image", $"{name}:1.0.0", "--to", destination, "--json");
        return (name, pushed.GetProperty("reference").GetString()!, pushed.GetProperty("imageDigest").GetString()!);
    }

    private static bool StoreHolds(string home, string digest) =>
        File.Exists(Path.Combine(home, "store", "blobs", "sha256", digest["sha256:".Length..]));



    /// <summary>Posts until 200; until the gateway read the entry 404, while the node verifies, pulls and pre-flights 503.</summary>
    private static async Task UntilOkAsync(HttpClient http, string name, TimeSpan limit)
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            using var answer = await http.PostAsJsonAsync($"inference/v1/{name}", new { text = "pulled" });
            if (answer.StatusCode == HttpStatusCode.OK) return;
            Assert.True(answer.StatusCode is HttpStatusCode.NotFound or HttpStatusCode.ServiceUnavailable, $"{(int)answer.StatusCode}: {await answer.Content.ReadAsStringAsync()}");
            Assert.True(clock.Elapsed < limit, $"{name}: no 200 within {limit.TotalSeconds} s (last {(int)answer.StatusCode}: {await answer.Content.ReadAsStringAsync()})");
            await Task.Delay(100);
        }
    }

}
