using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Nodes;
using InfraMind.Testing;

namespace InfraMind.Cli.Tests;

/// <summary>
/// A node on another host (#16, addresses): the test makes a network namespace joined to this one by a veth pair it
/// creates (a /30 of 10.251.0.0/16, used only here, no route out) and removes. Registry and gateway listen on this
/// side's address (`--listen`), the node runs inside the namespace and listens on its own address there; it registers
/// that address, and every job crosses the link. Off loopback every server speaks TLS by default with its own
/// self-signed certificate: the node and the clients pin registry and gateway by their keys' fingerprints, the gateway
/// pins the node's from its registration; a wrong pin is IM6046. Nothing listens on or is sent to an address off this machine.
/// </summary>
[Collection(EngineTests.Name)]
public sealed class AcrossHostsTests : IDisposable
{
    private readonly CliRunner _cli = new();

    public void Dispose() => _cli.Dispose();

    [SkippableFact]
    public async Task A_node_in_another_network_namespace_registers_its_own_address_and_serves_over_the_link_with_tls_by_default()
    {
        using var engine = await TestEngine.ConnectAsync();
        LabTests.RequireNamespaces();

        var tag = Guid.NewGuid().ToString("N")[..6];
        var ns = $"im-host-{tag}";
        var (here, there) = ($"imv{tag}a", $"imv{tag}b");
        var subnet = Random.Shared.Next(0, 64) * 4;
        var third = Random.Shared.Next(1, 255);
        var hostAddress = $"10.251.{third}.{subnet + 1}";
        var nodeAddress = $"10.251.{third}.{subnet + 2}";

        var package = BrokenModel.Create(Path.Combine(_cli.Work, "far"), $"far-{tag}");
        Assert.Equal(0, (await _cli.RunAsync("build", package)).Code);
        var reference = (await _cli.RunJsonAsync(0, "push", "--image", $"far-{tag}:1.0.0", "--to", "local", "--json")).GetProperty("reference").GetString()!;
        Assert.Equal(0, (await _cli.RunAsync("keys", "generate")).Code);

        try
        {
            Ip("netns", "add", ns);
            Ip("link", "add", here, "type", "veth", "peer", "name", there);
            Ip("link", "set", there, "netns", ns);
            Ip("addr", "add", $"{hostAddress}/30", "dev", here);
            Ip("link", "set", here, "up");
            Ip("netns", "exec", ns, "ip", "addr", "add", $"{nodeAddress}/30", "dev", there);
            Ip("netns", "exec", ns, "ip", "link", "set", there, "up");
            Ip("netns", "exec", ns, "ip", "link", "set", "lo", "up");
            Assert.DoesNotContain("default", Ip("netns", "exec", ns, "ip", "route"), StringComparison.Ordinal);

            // Stopped (SIGTERM) when this block ends, before the namespace goes.
            await using var serving = new ServingProcesses();
            var registryUrl = (await serving.StartAsync(InfraProcess.StartInfo(_cli.Home, "registry", "serve", "--listen", hostAddress, "--port", "0", "--allow-local-references", "--json")))
                .GetProperty("registry").GetString()!;
            Assert.Matches($"^https://{hostAddress.Replace(".", "\\.", StringComparison.Ordinal)}:[0-9]+/#sha256:[0-9a-f]{{64}}$", registryUrl);

            var gatewayJson = await serving.StartAsync(InfraProcess.StartInfo(_cli.Home, "gateway", "serve", "--listen", hostAddress, "--port", "0", "--registry", registryUrl, "--json",
                // One node: a first TLS handshake between two just-started processes can outlast the 3 s default on loaded cores.
                "--connect-timeout", "30s"));
            var gatewayUrl = new Uri(gatewayJson.GetProperty("gateway").GetString()!);
            var gatewayPin = gatewayJson.GetProperty("tlsFingerprint").GetString()!;
            Assert.Equal(hostAddress, gatewayUrl.Host);
            Assert.Equal("https", gatewayUrl.Scheme);

            // A wrong pin is refused, naming the key presented, for the registry and for the gateway alike.
            var wrongPin = "#sha256:" + new string('0', 64);
            var wrongRegistry = await _cli.RunAsync("log", "--registry", registryUrl.Split('#')[0] + wrongPin, "--json");
            Assert.Equal(4, wrongRegistry.Code);
            Assert.Contains("IM6046", (wrongRegistry.Out + wrongRegistry.Err), StringComparison.Ordinal);
            Assert.Contains(registryUrl.Split('#')[1], (wrongRegistry.Out + wrongRegistry.Err), StringComparison.Ordinal);
            var wrongGateway = await _cli.RunAsync("mesh", "status", "--gateway", gatewayUrl + wrongPin, "--json");
            Assert.Equal(4, wrongGateway.Code);
            Assert.Contains("IM6046", (wrongGateway.Out + wrongGateway.Err), StringComparison.Ordinal);
            Assert.Contains(gatewayPin, (wrongGateway.Out + wrongGateway.Err), StringComparison.Ordinal);

            // The node, as another host runs it: inside the namespace, reaching registry and gateway over the link. It
            // shares this test's home, so its operator lets it read the local:// reference (a registry off loopback is
            // another host's, whose publishers' host-local references a node refuses otherwise: MeshPullTests pulls over
            // oci:// and ipfs://).
            var inside = InfraProcess.StartInfo(_cli.Home, "node", "serve", "--gateway", $"{gatewayUrl}#{gatewayPin}", "--id", "far-node", "--registry", registryUrl,
                "--listen", nodeAddress, "--port", "0", "--allow-local-references", "--json");
            var joined = await serving.StartAsync(InNamespace(ns, inside));
            Assert.True(joined.GetProperty("registered").GetBoolean(), joined.ToString());
            Assert.StartsWith($"https://{nodeAddress}:", joined.GetProperty("advertised").GetString(), StringComparison.Ordinal);

            Assert.Equal(0, (await _cli.RunAsync("publish", "--model", Path.Combine(package, "model.yaml"), "--image", reference, "--registry", registryUrl)).Code);
            using var http = new HttpClient(new SocketsHttpHandler { UseProxy = false, SslOptions = InfraMind.Serving.Tls.MeshTls.Pinned(gatewayPin) })
            {
                BaseAddress = gatewayUrl, Timeout = TimeSpan.FromSeconds(30),
            };
            var clock = Stopwatch.StartNew();
            while (true)
            {
                using var answer = await http.PostAsJsonAsync($"inference/v1/far-{tag}", new { text = "across" });
                if (answer.StatusCode == HttpStatusCode.OK)
                {
                    Assert.Equal("far-node", answer.Headers.GetValues("InfraMind-Node").Single());
                    Assert.Equal("across", JsonNode.Parse(await answer.Content.ReadAsStringAsync())!["summary"]!.GetValue<string>());
                    break;
                }

                Assert.True(answer.StatusCode is HttpStatusCode.NotFound or HttpStatusCode.ServiceUnavailable, $"{(int)answer.StatusCode}: {await answer.Content.ReadAsStringAsync()}");
                if (clock.Elapsed > TimeSpan.FromSeconds(120))
                    Assert.Fail($"no 200 within 120 s: {await answer.Content.ReadAsStringAsync()}\nmesh: {await http.GetStringAsync("inference/v1")}");
                await Task.Delay(200);
            }

            // The gateway knows the node by the address it registered from its own host.
            var nodes = JsonNode.Parse(await http.GetStringAsync("inference/v1"))!["nodes"]!.AsArray();
            var far = Assert.Single(nodes, n => (string?)n!["id"] == "far-node")!;
            Assert.StartsWith($"https://{nodeAddress}:", (string?)far["address"], StringComparison.Ordinal);
            Assert.True((bool)far["online"]!);

            // `infra mesh status` reads the same through the pinned URL.
            var status = await _cli.RunJsonAsync(0, "mesh", "status", "--gateway", $"{gatewayUrl}#{gatewayPin}", "--json");
            Assert.Contains(status.GetProperty("nodes").EnumerateArray(), n => n.GetProperty("id").GetString() == "far-node");
        }
        finally
        {
            TryIp("netns", "del", ns); // removes the namespace's end of the pair, and with it this end
            TryIp("link", "del", here);
        }

        var leftovers = await engine.PruneAsync(new Dictionary<string, string> { ["org.inframind.model"] = $"far-{tag}@1.0.0" }, null, CancellationToken.None);
        Assert.Empty(leftovers.Containers);
        await TestEngine.RemoveTestImagesAsync(engine, $"far-{tag}:1.0.0");
        Assert.DoesNotContain(ns, Ip("netns", "list"), StringComparison.Ordinal);
    }

    private static ProcessStartInfo InNamespace(string ns, ProcessStartInfo psi)
    {
        var wrapped = new ProcessStartInfo("ip", ["netns", "exec", ns, psi.FileName, .. psi.ArgumentList])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = psi.WorkingDirectory,
        };
        foreach (var (k, v) in psi.Environment) wrapped.Environment[k] = v;
        return wrapped;
    }

    private static string Ip(params string[] arguments)
    {
        var (code, output) = RunIp(arguments);
        Assert.True(code == 0, $"ip {string.Join(' ', arguments)}: {output}");
        return output;
    }

    private static void TryIp(params string[] arguments) => RunIp(arguments);

    private static (int Code, string Output) RunIp(string[] arguments)
    {
        using var p = Process.Start(new ProcessStartInfo("ip", arguments) { RedirectStandardOutput = true, RedirectStandardError = true })!;
        var output = p.StandardOutput.ReadToEnd() + p.StandardError.ReadToEnd();
        p.WaitForExit();
        return (p.ExitCode, output);
    }



}
