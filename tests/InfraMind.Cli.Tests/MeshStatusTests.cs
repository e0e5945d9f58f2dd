using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Nodes;
using InfraMind.Gateway;
using InfraMind.Gateway.Catalog;
using InfraMind.Manifest;
using InfraMind.Serving;
using InfraMind.Testing;

namespace InfraMind.Cli.Tests;

/// <summary>`infra mesh status` against a real gateway that a node registered with and reported to over HTTP.</summary>
public sealed class MeshStatusTests : IDisposable
{
    private readonly CliRunner _cli = new();

    public void Dispose() => _cli.Dispose();

    private static async Task<GatewayHost> GatewayWithAReadyNodeAsync(long memoryBytes = 8L << 30)
    {
        var catalog = new InMemoryModelCatalog();
        catalog.Publish(ManifestReader.Validate(Path.Combine(TestEngine.RepoRoot, "tests", "packages", "broken-model")).Manifest!, "sha256:" + new string('0', 64));
        var token = MeshToken.Create();
        var gateway = await GatewayHost.StartAsync(new GatewayOptions { ListenUrl = "http://127.0.0.1:0", Replicas = 1, NodeToken = token }, catalog, CancellationToken.None);
        using var node = new HttpClient { BaseAddress = gateway.Url };
        MeshToken.Authorize(node.DefaultRequestHeaders, token);
        using var registered = await node.PostAsJsonAsync("mesh/v1/nodes",
            new NodeRegistration("n1", new Uri("http://127.0.0.1:9/"), new NodeCapacity(4000, memoryBytes, 0), new Dictionary<string, string>(), TimeSpan.FromMinutes(1)), MeshJson.Options);
        registered.EnsureSuccessStatusCode();
        var credential = (await registered.Content.ReadFromJsonAsync<NodeRegistered>(MeshJson.Options))!.Credential;
        node.DefaultRequestHeaders.Add(MeshHeaders.NodeCredential, credential);
        var ready = new ModelReport("broken-model", "1.0.0", ModelState.Ready, null, "pre-flight passed", 1, 2, 0, DateTimeOffset.UtcNow);
        using var beat = await node.PostAsJsonAsync("mesh/v1/nodes/n1/heartbeat", new NodeHeartbeat("n1", [ready]), MeshJson.Options);
        beat.EnsureSuccessStatusCode();
        return gateway;
    }

    [Fact]
    public async Task Shows_nodes_and_models_as_a_table_and_as_the_gateways_json()
    {
        await using var gateway = await GatewayWithAReadyNodeAsync();
        var state = await _cli.RunJsonAsync(0, "mesh", "status", "--gateway", gateway.Url.ToString(), "--json");
        var node = state.GetProperty("nodes").EnumerateArray().Single();
        Assert.Equal(("n1", true), (node.GetProperty("id").GetString(), node.GetProperty("online").GetBoolean()));
        var placed = state.GetProperty("models")[0].GetProperty("versions")[0].GetProperty("nodes").EnumerateArray().Single();
        Assert.Equal(("n1", "ready", 2), (placed.GetProperty("node").GetString(), placed.GetProperty("state").GetString(), placed.GetProperty("restarts").GetInt32()));

        var (code, table, err) = await _cli.RunAsync("mesh", "status", "--gateway", gateway.Url.ToString());
        Assert.True(code == 0, err);
        foreach (var expected in new[] { "n1", "online", "http://127.0.0.1:9/", "4000m CPU, 8Gi, 0 GPU", "broken-model@1.0.0 (latest)", "ready" })
            Assert.Contains(expected, table, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Filter_keeps_the_models_and_nodes_whose_name_contains_the_text_in_any_case()
    {
        await using var gateway = await GatewayWithAReadyNodeAsync();
        var url = gateway.Url.ToString();

        var models = await _cli.RunJsonAsync(0, "mesh", "status", "--gateway", url, "--json", "--filter", "BROKEN");
        Assert.Equal("broken-model", models.GetProperty("models").EnumerateArray().Single().GetProperty("name").GetString());
        Assert.Empty(models.GetProperty("nodes").EnumerateArray());
        // The placement stays listed under its model, whichever node it is on.
        Assert.Equal("n1", models.GetProperty("models")[0].GetProperty("versions")[0].GetProperty("nodes")[0].GetProperty("node").GetString());

        var nodes = await _cli.RunJsonAsync(0, "mesh", "status", "--gateway", url, "--json", "--filter", "n1");
        Assert.Empty(nodes.GetProperty("models").EnumerateArray());
        Assert.Equal("n1", nodes.GetProperty("nodes").EnumerateArray().Single().GetProperty("id").GetString());

        var (code, table, err) = await _cli.RunAsync("mesh", "status", "--gateway", url, "--filter", "n1");
        Assert.True(code == 0, err);
        Assert.Contains("http://127.0.0.1:9/", table, StringComparison.Ordinal);
        Assert.DoesNotContain("broken-model", table, StringComparison.Ordinal);

        // The gateway itself keeps only those (?filter=): what the command shows is not the client's filtering alone.
        using var http = new HttpClient { BaseAddress = gateway.Url };
        var served = JsonNode.Parse(await http.GetStringAsync(new Uri("inference/v1?filter=N1", UriKind.Relative)))!;
        Assert.Empty(served["models"]!.AsArray());
        Assert.Equal(["n1"], served["nodes"]!.AsArray().Select(n => (string?)n!["id"]));
        served = JsonNode.Parse(await http.GetStringAsync(new Uri("inference/v1?filter=broken-", UriKind.Relative)))!;
        Assert.Equal(["broken-model"], served["models"]!.AsArray().Select(m => (string?)m!["name"]));
        Assert.Empty(served["nodes"]!.AsArray());
        // An empty filter is no filter: the whole document.
        served = JsonNode.Parse(await http.GetStringAsync(new Uri("inference/v1?filter=", UriKind.Relative)))!;
        Assert.Equal((1, 1), (served["models"]!.AsArray().Count, served["nodes"]!.AsArray().Count));
    }

    [Fact]
    public async Task Filter_is_asked_of_the_gateway_and_applied_again_to_what_an_older_gateway_sends_whole()
    {
        // The gateway is asked for the filtered view (?filter=, escaped), so a document too large to read whole can be
        // read a model at a time; a gateway that ignores the parameter sends everything, and the client filters it.
        string? asked = null;
        await using var older = new ListenerServer(async (context, ct) =>
        {
            asked = context.Request.Url!.Query;
            context.Response.ContentType = "application/json";
            await context.Response.OutputStream.WriteAsync("""
                {"models": [{"name": "summarizer", "versions": []}, {"name": "echo & co", "versions": []}],
                 "nodes": [{"id": "n1"}, {"id": "ECHO-node"}], "at": "2026-12-06T08:00:00Z"}
                """u8.ToArray(), ct);
            context.Response.Close();
        });
        var state = await _cli.RunJsonAsync(0, "mesh", "status", "--gateway", older.BaseUri.ToString(), "--json", "--filter", "echo &");
        Assert.Equal("?filter=echo%20%26", asked);
        Assert.Equal(["echo & co"], state.GetProperty("models").EnumerateArray().Select(m => m.GetProperty("name").GetString()));
        Assert.Empty(state.GetProperty("nodes").EnumerateArray());

        // No filter: nothing asked.
        await _cli.RunJsonAsync(0, "mesh", "status", "--gateway", older.BaseUri.ToString(), "--json");
        Assert.Equal("", asked);
    }

    [Fact]
    public async Task A_state_whose_members_have_other_types_is_shown_not_an_internal_error()
    {
        // Found by an audit: casts on the gateway's members threw for another JSON type, and the command ended IM0001.
        await using var odd = new ListenerServer(async (context, ct) =>
        {
            context.Response.ContentType = "application/json";
            await context.Response.OutputStream.WriteAsync("""
                {"models": [{"name": 7, "latest": ["x"], "versions": [{"version": {"a": 1},
                   "nodes": [{"node": "n1", "online": "yes", "suspended": 1, "state": 3, "failures": "2", "successes": 9223372036854775807}]}]}],
                 "nodes": [{"id": ["n1"], "online": "yes", "capacity": "lots"}], "at": 5}
                """u8.ToArray(), ct);
            context.Response.Close();
        });
        var (code, table, err) = await _cli.RunAsync("mesh", "status", "--gateway", odd.BaseUri.ToString());
        Assert.True(code == 0, table + err);
        Assert.Contains("offline", table, StringComparison.Ordinal);
        var (filtered, _, filterErr) = await _cli.RunAsync("mesh", "status", "--gateway", odd.BaseUri.ToString(), "--filter", "n1");
        Assert.True(filtered == 0, filterErr);
    }

    [Fact]
    public async Task A_machines_memory_that_is_no_whole_mebibyte_is_shown_rounded()
    {
        // What `mesh up` offers on a 24 GiB machine: was shown as "24683748Ki".
        await using var gateway = await GatewayWithAReadyNodeAsync(24683748L << 10);
        var (code, table, err) = await _cli.RunAsync("mesh", "status", "--gateway", gateway.Url.ToString());
        Assert.True(code == 0, err);
        Assert.Contains("4000m CPU, 23.54 GiB, 0 GPU", table, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Watch_prints_one_state_per_refresh_until_stopped()
    {
        await using var gateway = await GatewayWithAReadyNodeAsync();
        // Stopped after its second state, not after a fixed time: on a loaded machine the first refresh alone (a cold
        // command and a first request) took longer than a clock-based stop allowed. 60 s only bounds a hang.
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var output = new StopAfterLines(2, stop);
        var code = await InfraCli.RunAsync(["mesh", "status", "--gateway", gateway.Url.ToString(), "--json", "--watch", "--interval", "0.5"],
            _cli.Context(output), stop.Token);
        Assert.Equal(0, code);
        var lines = output.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(2, lines.Length);
        Assert.All(lines, l => Assert.Equal("n1", JsonDocument.Parse(l).RootElement.GetProperty("nodes")[0].GetProperty("id").GetString()));
        // One state per refresh: the second comes an interval (0.5 s) after the first, not at once.
        Assert.True(output.Flushed[1] - output.Flushed[0] >= TimeSpan.FromSeconds(0.45), $"states {(output.Flushed[1] - output.Flushed[0]).TotalMilliseconds:0} ms apart");
    }

    /// <summary>Output that asks the command to stop once it has flushed <c>lines</c> lines (the watch flushes each state).</summary>
    private sealed class StopAfterLines(int lines, CancellationTokenSource stop) : StringWriter
    {
        public List<TimeSpan> Flushed { get; } = [];
        private readonly System.Diagnostics.Stopwatch _clock = System.Diagnostics.Stopwatch.StartNew();

        public override Task FlushAsync(CancellationToken cancellationToken)
        {
            Flushed.Add(_clock.Elapsed);
            if (ToString().Count(c => c == '\n') >= lines) _ = stop.CancelAsync();
            return Task.CompletedTask;
        }
    }

    [Fact]
    public async Task A_gateway_answering_without_end_is_IM6024_at_16_MiB_not_read_whole()
    {
        // The --gateway URL may be anyone's: its answer is read up to MeshStatusCommand.MaxStateBytes, no further.
        long sent = 0;
        await using var flood = new ListenerServer(async (context, ct) =>
        {
            context.Response.ContentType = "application/json";
            context.Response.SendChunked = true;
            var chunk = new byte[1 << 20];
            try
            {
                for (var i = 0; i < 64 && !ct.IsCancellationRequested; i++)
                {
                    await context.Response.OutputStream.WriteAsync(chunk, ct);
                    Interlocked.Add(ref sent, chunk.Length);
                }
            }
            catch (Exception e) when (e is HttpListenerException or IOException or OperationCanceledException)
            {
                // The client stopped reading and went away.
            }
        });
        var (code, output, err) = await _cli.RunAsync("mesh", "status", "--gateway", flood.BaseUri.ToString());
        Assert.Equal(ExitCodes.Unavailable, code);
        Assert.Contains("IM6024", err, StringComparison.Ordinal);
        Assert.Contains("its answer is larger than 16 MiB (pass --filter TEXT", err, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", err + output, StringComparison.Ordinal);
        Assert.True(Interlocked.Read(ref sent) < 40L << 20, $"{Interlocked.Read(ref sent)} of 64 MiB sent to a reader capped at 16 MiB");
    }

    [Fact]
    public async Task A_gzip_bomb_for_a_state_is_IM6024_at_16_MiB_inflated()
    {
        // mesh status accepts gzip (a gateway gzips its state): what counts is the inflated size, not the bytes sent.
        var bomb = GzipBomb.Of(256);
        string? asked = null;
        await using var bomber = new ListenerServer(async (context, ct) =>
        {
            asked = context.Request.Headers["Accept-Encoding"];
            context.Response.ContentType = "application/json";
            context.Response.AddHeader("Content-Encoding", "gzip");
            context.Response.ContentLength64 = bomb.Length;
            try
            {
                await context.Response.OutputStream.WriteAsync(bomb, ct);
            }
            catch (Exception e) when (e is HttpListenerException or IOException or OperationCanceledException)
            {
                // The client stopped reading at its cap and went away.
            }
        });
        var (code, output, err) = await _cli.RunAsync("mesh", "status", "--gateway", bomber.BaseUri.ToString());
        Assert.Contains("gzip", asked, StringComparison.Ordinal);
        Assert.Equal(ExitCodes.Unavailable, code);
        Assert.Contains("IM6024", err, StringComparison.Ordinal);
        Assert.Contains("its answer is larger than 16 MiB", err, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", err + output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_gateway_that_does_not_answer_is_IM6024_with_no_stack_trace()
    {
        using var closed = new ClosedPort();
        var (code, output, err) = await _cli.RunAsync("mesh", "status", "--gateway", $"http://127.0.0.1:{closed.Port}");
        Assert.Equal(ExitCodes.Unavailable, code);
        Assert.Contains("IM6024", err, StringComparison.Ordinal);
        Assert.Contains("--gateway", err, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", err + output, StringComparison.Ordinal);
        var json = await _cli.RunJsonAsync(ExitCodes.Unavailable, "mesh", "status", "--gateway", $"http://127.0.0.1:{closed.Port}", "--json");
        Assert.Equal("IM6024", json.GetProperty("error").GetProperty("code").GetString());

        // Something that answers, but not a gateway's state.
        await using var other = new ListenerServer(async (context, ct) =>
        {
            context.Response.ContentType = "application/json";
            await context.Response.OutputStream.WriteAsync("""{"hello": "world"}"""u8.ToArray(), ct);
            context.Response.Close();
        });
        (code, _, err) = await _cli.RunAsync("mesh", "status", "--gateway", other.BaseUri.ToString());
        Assert.Equal(ExitCodes.Unavailable, code);
        Assert.Contains("not a mesh state", err, StringComparison.Ordinal);
    }
}
