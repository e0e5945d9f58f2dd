using System.Text.Json;
using InfraMind.Serving;
using InfraMind.Signing;
using InfraMind.Testing;

namespace InfraMind.Cli.Tests;

/// <summary>
/// Node identity with the real commands (#16): `infra gateway serve --key --admit-node-key`, `infra node serve --key
/// --admit-gateway-key`, each refusal with its code and exit 4; and `infra receipt verify` offline.
/// </summary>
public sealed class NodeKeysTests : IDisposable
{
    private readonly CliRunner _cli = new();

    public void Dispose() => _cli.Dispose();

    private async Task<string> KeyAsync(string name) =>
        (await _cli.RunJsonAsync(0, "keys", "generate", "--name", name, "--json")).GetProperty("fingerprint").GetString()!;

    /// <summary>
    /// `node serve --json` with no gateway answering: stdout is the one JSON object (registered: false), and the notice
    /// the human view prints goes to stderr as a warning, so that whoever watches the process learns it is retrying.
    /// </summary>
    [SkippableFact]
    public async Task A_node_with_no_gateway_answering_says_so_on_stderr_with_json_too()
    {
        using var engine = await TestEngine.ConnectAsync(needsBaseImage: false);
        var token = Path.Combine(_cli.Work, "token");
        await File.WriteAllTextAsync(token, "a-mesh-token-of-some-length\n");
        var psi = InfraProcess.StartInfo(_cli.Home, "node", "serve", "--gateway", "http://127.0.0.1:9/", "--token-file", token, "--id", "alone",
            "--port", "0", "--gateway-timeout", "2s", "--json");
        using var p = System.Diagnostics.Process.Start(psi)!;
        try
        {
            using var limit = new CancellationTokenSource(TimeSpan.FromSeconds(90));
            await UnregisteredAsync(p, limit.Token);
            string? warning = null;
            while (warning is null && await p.StandardError.ReadLineAsync(limit.Token) is { } line)
                if (line.StartsWith("warning: ", StringComparison.Ordinal)) warning = line;
            Assert.NotNull(warning);
            Assert.StartsWith("warning: node alone at http://127.0.0.1:", warning, StringComparison.Ordinal);
            Assert.EndsWith("no gateway of http://127.0.0.1:9/ answers yet; retrying every heartbeat", warning, StringComparison.Ordinal);
            Assert.False(p.HasExited, "the node stopped instead of retrying");
        }
        finally
        {
            p.Kill(entireProcessTree: true);
            await p.WaitForExitAsync();
        }
    }

    /// <summary>
    /// A gateway that refuses the node only after the first 10 s (it was down, then came back with another token) ends
    /// the node as a refusal within them does. Found by an audit: the node went on serving with no gateway, for good.
    /// </summary>
    [SkippableFact]
    public async Task A_refusal_after_the_first_ten_seconds_ends_the_node_with_its_code()
    {
        using var engine = await TestEngine.ConnectAsync(needsBaseImage: false);
        var token = Path.Combine(_cli.Work, "late-token");
        await File.WriteAllTextAsync(token, "a-mesh-token-of-some-length\n");
        var refusing = 0;
        await using var gateway = new RawHttpServer(_ => Volatile.Read(ref refusing) == 1
            ? (401, new Dictionary<string, string> { ["Content-Type"] = "application/problem+json" },
                """{"title": "IM6015", "code": "IM6015", "detail": "the mesh token is not this gateway's"}"""u8.ToArray())
            : (503, null, "starting"u8.ToArray()));
        var psi = InfraProcess.StartInfo(_cli.Home, "node", "serve", "--gateway", $"http://127.0.0.1:{gateway.Port}/", "--token-file", token, "--id", "late",
            "--port", "0", "--heartbeat-interval", "1s", "--json");
        using var p = System.Diagnostics.Process.Start(psi)!;
        try
        {
            using var limit = new CancellationTokenSource(TimeSpan.FromSeconds(90));
            await UnregisteredAsync(p, limit.Token);
            Volatile.Write(ref refusing, 1);
            var rest = await p.StandardOutput.ReadToEndAsync(limit.Token);
            await p.WaitForExitAsync(limit.Token);
            Assert.True(p.ExitCode == 4, $"exit {p.ExitCode}: {rest}");
            Assert.Equal("IM6015", JsonDocument.Parse(rest).RootElement.GetProperty("error").GetProperty("code").GetString());
        }
        finally
        {
            if (!p.HasExited)
            {
                p.Kill(entireProcessTree: true);
                await p.WaitForExitAsync();
            }
        }
    }

    [SkippableFact]
    public async Task Gateways_admit_listed_node_keys_and_nodes_admit_listed_gateway_keys_each_refusal_named()
    {
        using var engine = await TestEngine.ConnectAsync(needsBaseImage: false);
        var gatewayKey = await KeyAsync("gw");
        var otherGateway = await KeyAsync("gw-other");
        var a = await KeyAsync("node-a");
        var b = await KeyAsync("node-b");
        await KeyAsync("node-c");
        var admitFile = Path.Combine(_cli.Work, "admitted-nodes");
        await File.WriteAllTextAsync(admitFile, $"# the operators' nodes\n{b}\n\n");
        await using var serving = new ServingProcesses();
        await serving.StartAsync(InfraProcess.StartInfo(_cli.Home, "registry", "serve", "--port", "0", "--json"));
        var gateway = await serving.StartAsync(InfraProcess.StartInfo(_cli.Home, "gateway", "serve", "--port", "0", "--grpc-port", "0", "--key", "gw",
            "--admit-node-key", a, "--admit-node-keys", admitFile, "--json"));
        Assert.Equal(gatewayKey, gateway.GetProperty("key").GetString());
        Assert.Equal(2, gateway.GetProperty("admittedNodeKeys").GetInt32());
        var url = gateway.GetProperty("gateway").GetString()!;

        // An admitted node that admits this gateway's key joins.
        var joined = await serving.StartAsync(InfraProcess.StartInfo(_cli.Home, "node", "serve", "--gateway", url, "--id", "a", "--key", "node-a",
            "--admit-gateway-key", gatewayKey, "--json"));
        Assert.True(joined.GetProperty("registered").GetBoolean());
        Assert.Equal(a, joined.GetProperty("key").GetString());
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
        var nodes = JsonDocument.Parse(await http.GetStringAsync(new Uri(new Uri(url), "inference/v1"))).RootElement.GetProperty("nodes");
        Assert.Equal(a, nodes.EnumerateArray().Single(n => n.GetProperty("id").GetString() == "a").GetProperty("key").GetString());

        // A key not on the list; the id of node a with another (admitted) key; no key at all.
        var notAdmitted = await InfraProcess.FailsAsync(_cli.Home, 4, "IM6043", "node", "serve", "--gateway", url, "--id", "c", "--key", "node-c");
        Assert.Contains("not among the keys this gateway admits", notAdmitted, StringComparison.Ordinal);
        await InfraProcess.FailsAsync(_cli.Home, 4, "IM6040", "node", "serve", "--gateway", url, "--id", "a", "--key", "node-b");
        await InfraProcess.FailsAsync(_cli.Home, 4, "IM6043", "node", "serve", "--gateway", url, "--id", "keyless");
        // A node refuses a gateway whose key it does not admit: it takes no credential from it.
        var refused = await InfraProcess.FailsAsync(_cli.Home, 4, "IM6044", "node", "serve", "--gateway", url, "--id", "b", "--key", "node-b",
            "--admit-gateway-key", otherGateway);
        Assert.Contains(gatewayKey, refused, StringComparison.Ordinal);
        // Usage: an admit list without a key of its own, a malformed fingerprint.
        await InfraProcess.FailsAsync(_cli.Home, 2, "IM0002", "node", "serve", "--gateway", url, "--id", "d", "--admit-gateway-key", gatewayKey);
        await InfraProcess.FailsAsync(_cli.Home, 2, "IM0002", "gateway", "serve", "--port", "0", "--admit-node-key", "sha256:1234");
    }

    [Fact]
    public async Task Receipt_verify_accepts_a_receipt_and_refuses_one_byte_changed_each_exit_documented()
    {
        var fingerprint = await KeyAsync("node-x");
        await KeyAsync("node-y");
        var output = """{"summary":"hello"}"""u8.ToArray();
        using var key = new KeyStore(Path.Combine(_cli.Home, "keys")).Load("node-x");
        var receipt = JobReceipts.Sign(key, "0123456789abcdef0123456789abcdef", "echo", "1.0.0", "sha256:" + new string('1', 64), """{"text":"hi"}"""u8, output, "node-1",
            DateTimeOffset.UtcNow);
        var outputFile = Path.Combine(_cli.Work, "output.json");
        var inputFile = Path.Combine(_cli.Work, "input.json");
        await File.WriteAllBytesAsync(outputFile, output);
        // As the client wrote it: the model got the compact form, which matches too.
        await File.WriteAllTextAsync(inputFile, "{ \"text\" : \"hi\" }\n");

        var ok = await _cli.RunJsonAsync(0, "receipt", "verify", receipt, "--fingerprint", fingerprint, "--input", inputFile, "--output", outputFile, "--json");
        Assert.True(ok.GetProperty("valid").GetBoolean());
        Assert.Equal("node-1", ok.GetProperty("receipt").GetProperty("node").GetString());
        Assert.Equal(0, (await _cli.RunAsync("receipt", "verify", receipt, "--key", "node-x")).Code);
        var pem = Path.Combine(_cli.Home, "keys", "node-x.pub");
        Assert.True(File.Exists(pem), "keys generate writes NAME.pub");
        Assert.Equal(0, (await _cli.RunAsync("receipt", "verify", receipt, "--public-key", pem)).Code);
        var receiptFile = Path.Combine(_cli.Work, "receipt");
        await File.WriteAllTextAsync(receiptFile, receipt + "\n");
        Assert.Equal(0, (await _cli.RunAsync("receipt", "verify", receiptFile, "--fingerprint", fingerprint)).Code);

        // One byte of the output differs.
        output[^2] = (byte)'X';
        await File.WriteAllBytesAsync(outputFile, output);
        var (code, _, err) = await _cli.RunAsync("receipt", "verify", receipt, "--fingerprint", fingerprint, "--output", outputFile);
        Assert.Equal(1, code);
        Assert.Contains("error IM6045:", err, StringComparison.Ordinal);
        // Another key; an altered receipt; no key or two.
        Assert.Equal(1, (await _cli.RunAsync("receipt", "verify", receipt, "--key", "node-y")).Code);
        var envelope = System.Text.Encoding.UTF8.GetString(System.Buffers.Text.Base64Url.DecodeFromChars(receipt));
        var payload = JsonDocument.Parse(envelope).RootElement.GetProperty("payload").GetString()!;
        var altered = System.Text.Encoding.UTF8.GetString(Convert.FromBase64String(payload)).Replace("node-1", "node-2", StringComparison.Ordinal);
        Assert.Contains("node-2", altered, StringComparison.Ordinal);
        var forged = envelope.Replace(payload, Convert.ToBase64String(System.Text.Encoding.UTF8.GetBytes(altered)), StringComparison.Ordinal);
        Assert.Equal(1, (await _cli.RunAsync("receipt", "verify", forged, "--fingerprint", fingerprint)).Code);
        Assert.Equal(2, (await _cli.RunAsync("receipt", "verify", receipt)).Code);
        Assert.Equal(2, (await _cli.RunAsync("receipt", "verify", receipt, "--key", "node-x", "--fingerprint", fingerprint)).Code);
    }

    /// <summary>Reads `node serve --json`'s announcement (the first JSON object on stdout) and checks it says the node is not registered yet.</summary>
    private static async Task UnregisteredAsync(System.Diagnostics.Process p, CancellationToken ct)
    {
        var text = new System.Text.StringBuilder();
        while (await p.StandardOutput.ReadLineAsync(ct) is { } line)
        {
            text.AppendLine(line);
            if (line == "}") break;
        }

        Assert.False(JsonDocument.Parse(text.ToString()).RootElement.GetProperty("registered").GetBoolean(), text.ToString());
    }
}
