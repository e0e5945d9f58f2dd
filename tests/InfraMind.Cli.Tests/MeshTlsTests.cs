using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using InfraMind.Serving.Tls;
using InfraMind.Testing;

namespace InfraMind.Cli.Tests;

/// <summary>
/// Transport security with the real commands (#16): `infra gateway serve --tls` and `infra node serve --tls`, each
/// with its own self-signed certificate kept in the home; the node pins the gateway (--gateway URL#sha256:HEX), the
/// gateway pins the node (the fingerprint its registration carries), and a job crosses both over TLS. A wrong pin is
/// refused with IM6046, exit 4.
/// </summary>
[Collection(EngineTests.Name)]
public sealed class MeshTlsTests : IDisposable
{
    private readonly CliRunner _cli = new();

    public void Dispose() => _cli.Dispose();

    [SkippableFact]
    public async Task A_job_crosses_a_pinned_gateway_and_a_pinned_node_over_TLS_and_a_wrong_pin_is_refused()
    {
        using var engine = await TestEngine.ConnectAsync();
        var tag = Guid.NewGuid().ToString("N")[..6];
        var package = BrokenModel.Create(Path.Combine(_cli.Work, "tls"), $"tls-{tag}");
        Assert.Equal(0, (await _cli.RunAsync("build", package)).Code);
        var reference = (await _cli.RunJsonAsync(0, "push", "--image", $"tls-{tag}:1.0.0", "--to", "local", "--json")).GetProperty("reference").GetString()!;
        Assert.Equal(0, (await _cli.RunAsync("keys", "generate")).Code);
        await _cli.RunJsonAsync(0, "keys", "generate", "--name", "node-t", "--json");

        try
        {
            await using var serving = new ServingProcesses();
            var registryUrl = (await serving.StartAsync(InfraProcess.StartInfo(_cli.Home, "registry", "serve", "--port", "0", "--allow-local-references", "--json")))
                .GetProperty("registry").GetString()!;
            var gateway = await serving.StartAsync(InfraProcess.StartInfo(_cli.Home, "gateway", "serve", "--port", "0", "--grpc-port", "0", "--registry", registryUrl, "--tls", "--json",
                // One node: a first TLS handshake between two just-started processes can outlast the 3 s default on loaded cores.
                "--connect-timeout", "30s"));
            var gatewayUrl = new Uri(gateway.GetProperty("gateway").GetString()!);
            var gatewayPin = gateway.GetProperty("tlsFingerprint").GetString()!;
            Assert.Equal("https", gatewayUrl.Scheme);
            Assert.True(MeshTls.IsFingerprint(gatewayPin), gatewayPin);

            // A pin that is not the gateway's: the node takes nothing from it and fails to start, naming both keys.
            var wrong = "sha256:" + new string('0', 64);
            var refused = await InfraProcess.FailsAsync(_cli.Home, 4, "IM6046", "node", "serve", "--gateway", $"{gatewayUrl}#{wrong}", "--id", "misled");
            Assert.Contains(gatewayPin, refused, StringComparison.Ordinal);
            // A pin on a plain http URL, or a malformed one, is a usage error.
            await InfraProcess.FailsAsync(_cli.Home, 2, "IM0002", "node", "serve", "--gateway", $"http://127.0.0.1:9/#{gatewayPin}", "--id", "x");
            await InfraProcess.FailsAsync(_cli.Home, 2, "IM0002", "node", "serve", "--gateway", $"{gatewayUrl}#sha256:12", "--id", "x");

            var node = await serving.StartAsync(InfraProcess.StartInfo(_cli.Home, "node", "serve", "--gateway", $"{gatewayUrl}#{gatewayPin}", "--id", "tls-node",
                "--key", "node-t", "--tls", "--registry", registryUrl, "--allow-local-references", "--json"));
            Assert.True(node.GetProperty("registered").GetBoolean(), node.ToString());
            Assert.StartsWith("https://127.0.0.1:", node.GetProperty("advertised").GetString(), StringComparison.Ordinal);
            var nodePin = node.GetProperty("tlsFingerprint").GetString()!;
            Assert.True(MeshTls.IsFingerprint(nodePin), nodePin);
            Assert.NotEqual(gatewayPin, nodePin);
            foreach (var file in new[] { "gateway.pfx", "tls-node.pfx" })
                Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(Path.Combine(_cli.Home, "mesh", "tls", file)));

            Assert.Equal(0, (await _cli.RunAsync("publish", "--model", Path.Combine(package, "model.yaml"), "--image", reference, "--registry", registryUrl)).Code);
            // The client pins the gateway too; a client that trusts only CAs cannot even connect.
            using var http = new HttpClient(new SocketsHttpHandler { UseProxy = false, SslOptions = MeshTls.Pinned(gatewayPin) }) { BaseAddress = gatewayUrl, Timeout = TimeSpan.FromSeconds(30) };
            using (var unpinned = new HttpClient(new SocketsHttpHandler { UseProxy = false }) { BaseAddress = gatewayUrl, Timeout = TimeSpan.FromSeconds(10) })
                await Assert.ThrowsAsync<HttpRequestException>(() => unpinned.GetAsync("healthz"));
            var clock = Stopwatch.StartNew();
            while (true)
            {
                using var answer = await http.PostAsJsonAsync($"inference/v1/tls-{tag}", new { text = "sealed" });
                if (answer.StatusCode == HttpStatusCode.OK)
                {
                    Assert.Equal("tls-node", answer.Headers.GetValues("InfraMind-Node").Single());
                    Assert.Equal("sealed", JsonNode.Parse(await answer.Content.ReadAsStringAsync())!["summary"]!.GetValue<string>());
                    break;
                }

                Assert.True(answer.StatusCode is HttpStatusCode.NotFound or HttpStatusCode.ServiceUnavailable, $"{(int)answer.StatusCode}: {await answer.Content.ReadAsStringAsync()}");
                if (clock.Elapsed > TimeSpan.FromSeconds(120))
                    Assert.Fail($"no 200 within 120 s: {await answer.Content.ReadAsStringAsync()}\nmesh: {await http.GetStringAsync("inference/v1")}");
                await Task.Delay(200);
            }

            // The gateway holds the node's pin from its signed registration, and the node's https address.
            var described = JsonNode.Parse(await http.GetStringAsync("inference/v1"))!["nodes"]!.AsArray().Single(n => (string?)n!["id"] == "tls-node")!;
            Assert.Equal(nodePin, (string?)described["tlsFingerprint"]);
            Assert.StartsWith("https://", (string?)described["address"], StringComparison.Ordinal);
        }
        finally
        {
            await engine.PruneAsync(new Dictionary<string, string> { ["org.inframind.model"] = $"tls-{tag}@1.0.0" }, null, CancellationToken.None);
            await TestEngine.RemoveTestImagesAsync(engine, $"tls-{tag}:1.0.0");
        }
    }
}
