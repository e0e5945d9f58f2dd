using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using InfraMind.Hosting;
using InfraMind.Testing;

namespace InfraMind.Cli.Tests;

/// <summary>
/// SPEC.md's flow as a user runs it: `infra mesh up` in one process, `infra push` and `infra publish` in others, then
/// POST /inference/v1/NAME answers through the gateway with no other step; SIGTERM stops it and removes the containers.
/// </summary>
[Collection(EngineTests.Name)]
public sealed class MeshUpTests : IDisposable
{
    private readonly CliRunner _cli = new();

    public void Dispose() => _cli.Dispose();

    [SkippableFact]
    public async Task Published_model_answers_through_the_gateway_and_sigterm_cleans_up()
    {
        using var engine = await TestEngine.ConnectAsync();
        var package = BrokenModel.Create(Path.Combine(_cli.Work, "echo"), "mesh-e2e");
        Assert.Equal(0, (await _cli.RunAsync("build", package)).Code);
        var pushed = await _cli.RunJsonAsync(0, "push", "--image", "mesh-e2e:1.0.0", "--to", "local", "--json");
        var reference = pushed.GetProperty("reference").GetString()!;
        Assert.Equal(0, (await _cli.RunAsync("keys", "generate")).Code); // publish signs with the default key, never made for you
        // Port 0: the gateway binds a port of its own and announces it in the home (nothing picked first and lost meanwhile).
        // --max-in-flight: every client of the embedded mesh has 127.0.0.1, so the limit is also the per-address one.
        using var mesh = Process.Start(InfraProcess.StartInfo(_cli.Home, "mesh", "up", "--nodes", "2", "--port", "0", "--registry-port", "0", "--max-in-flight", "300"))!;
        var meshOut = mesh.StandardOutput.ReadToEndAsync();
        var meshErr = mesh.StandardError.ReadToEndAsync();
        try
        {
            // Up when the gateway it announced in the home answers /healthz.
            var announced = Path.Combine(_cli.Home, "run", "gateway.url");
            using var probe = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
            var up = Stopwatch.StartNew();
            Uri gatewayUrl;
            while (true)
            {
                if (mesh.HasExited) Assert.Fail("mesh up exited: " + await meshOut + await meshErr);
                Assert.True(up.Elapsed < TimeSpan.FromSeconds(60), "mesh up did not come up in 60 s");
                if (File.Exists(announced))
                {
                    try
                    {
                        var url = new Uri(File.ReadAllText(announced));
                        using var health = await probe.GetAsync(new Uri(url, "healthz"));
                        if (health.IsSuccessStatusCode)
                        {
                            gatewayUrl = url;
                            break;
                        }
                    }
                    catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
                    {
                        // Not listening yet, or too busy starting to answer within the probe's 2 s: asked again.
                    }
                }

                await Task.Delay(100);
            }
            // publish goes to the running mesh's registry (announced in the home), not to a second copy of the log
            var published = await _cli.RunJsonAsync(0, "publish", "--model", Path.Combine(package, "model.yaml"), "--image", reference, "--json");
            Assert.StartsWith("http://127.0.0.1:", published.GetProperty("registry").GetString(), StringComparison.Ordinal);
            Assert.Equal(new Uri(gatewayUrl, "inference/v1/mesh-e2e").ToString(), published.GetProperty("endpoint").GetString());
            using var http = new HttpClient { BaseAddress = gatewayUrl, Timeout = TimeSpan.FromSeconds(30) };
            HttpResponseMessage? answer = null;
            var clock = Stopwatch.StartNew();
            while (clock.Elapsed < TimeSpan.FromSeconds(90))
            {
                answer?.Dispose();
                answer = await http.PostAsJsonAsync("inference/v1/mesh-e2e", new { text = "hello mesh" });
                if (answer.StatusCode == HttpStatusCode.OK) break;
                // Until the gateway has read the new log entry (≤ 0.1 s): 404; while nodes verify, pull and pre-flight: 503.
                Assert.Contains(answer.StatusCode, new[] { HttpStatusCode.NotFound, HttpStatusCode.ServiceUnavailable });
                await Task.Delay(250);
            }

            Assert.NotNull(answer);
            Assert.Equal(HttpStatusCode.OK, answer.StatusCode);
            var body = JsonDocument.Parse(await answer.Content.ReadAsStringAsync()).RootElement;
            Assert.Equal("hello mesh", body.GetProperty("summary").GetString());
            var answeredBy = answer.Headers.GetValues("InfraMind-Node").Single();
            Assert.StartsWith("node-", answeredBy, StringComparison.Ordinal);
            // The answering node signed a receipt with its own key (made in the home on first use), straight from its container.
            var receipt = answer.Headers.GetValues("InfraMind-Receipt").Single();
            var nodeKey = Path.Combine(_cli.Home, "mesh", "keys", $"mesh-{answeredBy}.pub");
            var answerFile = Path.Combine(_cli.Work, "answer.json");
            await File.WriteAllBytesAsync(answerFile, await answer.Content.ReadAsByteArrayAsync());
            var inputFile = Path.Combine(_cli.Work, "input.json");
            await File.WriteAllTextAsync(inputFile, """{"text": "hello mesh"}""");
            var verified = await _cli.RunJsonAsync(0, "receipt", "verify", receipt, "--public-key", nodeKey, "--input", inputFile, "--output", answerFile, "--json");
            Assert.Equal("mesh-e2e", verified.GetProperty("receipt").GetProperty("model").GetString());
            Assert.Equal(answeredBy, verified.GetProperty("receipt").GetProperty("node").GetString());
            var altered = await File.ReadAllBytesAsync(answerFile);
            altered[^2] ^= 1;
            await File.WriteAllBytesAsync(answerFile, altered);
            Assert.Equal(1, (await _cli.RunAsync("receipt", "verify", receipt, "--public-key", nodeKey, "--output", answerFile)).Code);
            var kept = JsonDocument.Parse(await http.GetStringAsync($"mesh/v1/nodes/{answeredBy}/receipts")).RootElement;
            Assert.Contains(receipt, kept.GetProperty("receipts").EnumerateArray().Select(r => r.GetString()));
            answer.Dispose();

            var scrape = (await http.GetStringAsync(new Uri("metrics", UriKind.Relative))).Split('\n');
            Assert.Contains("inframind_gateway_inferences_in_flight_limit{scope=\"all\"} 300", scrape);
            Assert.Contains("inframind_gateway_inferences_in_flight_limit{scope=\"address\"} 300", scrape);

            using var bad = await http.PostAsync("inference/v1/mesh-e2e", new StringContent("{\"text\": 5}", System.Text.Encoding.UTF8, "application/json"));
            Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
            using var unknown = await http.PostAsJsonAsync("inference/v1/never-published", new { text = "x" });
            Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);

            // Only nodes with the mesh's token join: a node started apart with this home's token file does, any other is refused.
            var tokenFile = Path.Combine(_cli.Home, "mesh", "node-token");
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(tokenFile));
            using (var extra = Process.Start(InfraProcess.StartInfo(_cli.Home, "node", "serve", "--gateway", gatewayUrl.ToString(), "--id", "extra"))!)
            {
                try
                {
                    await ReadUntilAsync(extra, "registered with");
                    var nodes = JsonDocument.Parse(await http.GetStringAsync("inference/v1")).RootElement.GetProperty("nodes");
                    Assert.Contains(nodes.EnumerateArray(), n => n.GetProperty("id").GetString() == "extra" && n.GetProperty("online").GetBoolean());
                }
                finally
                {
                    await TerminateAsync(extra, TimeSpan.FromSeconds(60)); // it removes what it started
                }
            }

            using var intruder = await http.PostAsJsonAsync("mesh/v1/nodes", new { nodeId = "intruder" });
            Assert.Equal(HttpStatusCode.Unauthorized, intruder.StatusCode);
            Assert.Contains("IM6015", await intruder.Content.ReadAsStringAsync(), StringComparison.Ordinal);
            var wrongToken = Path.Combine(_cli.Work, "wrong-token");
            await File.WriteAllTextAsync(wrongToken, InfraMind.Serving.MeshToken.Create() + "\n");
            var refused = await _cli.RunAsync("node", "serve", "--gateway", gatewayUrl.ToString(), "--id", "intruder", "--token-file", wrongToken);
            Assert.True(refused.Code == 4, refused.Out + refused.Err);
            Assert.Contains("IM6015", refused.Err, StringComparison.Ordinal);
            Assert.Contains("--token-file", refused.Err, StringComparison.Ordinal);
            Assert.DoesNotContain("   at ", refused.Err, StringComparison.Ordinal);
        }
        finally
        {
            await TerminateAsync(mesh, TimeSpan.FromSeconds(60));
        }

        // SIGTERM is an interruption (exit 130), after which everything was removed.
        var stderr = await meshErr;
        Assert.True(mesh.ExitCode is 0 or 130, stderr);
        Assert.Contains("mesh stopped, containers removed", await meshOut, StringComparison.Ordinal);
        // With --port 0 the gRPC ingress took a free port of its own, and mesh up said where.
        Assert.Matches(@"gRPC ingress \(Open Inference Protocol V2, h2c\) at http://127\.0\.0\.1:\d+/", await meshOut);
        var leftovers = await engine.PruneAsync(new Dictionary<string, string> { ["org.inframind.model"] = "mesh-e2e@1.0.0" }, null, CancellationToken.None);
        Assert.Empty(leftovers.Containers);
        Assert.False(File.Exists(Path.Combine(_cli.Home, "run", "gateway.url")));
    }

    [Fact]
    public async Task Node_serve_without_a_token_file_says_where_the_token_comes_from()
    {
        var missing = Path.Combine(_cli.Work, "no-such-token");
        var result = await _cli.RunAsync("node", "serve", "--gateway", "http://127.0.0.1:9/", "--token-file", missing);
        Assert.Equal(2, result.Code);
        Assert.Contains("IM6016", result.Err, StringComparison.Ordinal);
        Assert.Contains(missing, result.Err, StringComparison.Ordinal);
        Assert.Contains("infra gateway serve", result.Err, StringComparison.Ordinal);
        var empty = Path.Combine(_cli.Work, "empty-token");
        await File.WriteAllTextAsync(empty, "\n");
        result = await _cli.RunAsync("node", "serve", "--gateway", "http://127.0.0.1:9/", "--token-file", empty);
        Assert.Equal(2, result.Code);
        Assert.Contains("is empty", result.Err, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Gateway_serve_and_mesh_up_refuse_out_of_range_limits()
    {
        foreach (var (option, value, says) in new[]
        {
            ("--max-nodes", "0", "--max-nodes must be between 1 and 100000"),
            ("--max-nodes", "100001", "--max-nodes must be between 1 and 100000"),
            ("--missed-beats", "0", "--missed-beats must be between 1 and 100"),
            ("--max-in-flight", "0", "--max-in-flight must be between 1 and 1000000"),
            ("--max-in-flight-per-address", "0", "--max-in-flight-per-address must be at least 1"),
            ("--max-connections", "0", "--max-connections must be between 1 and 1000000"),
            ("--max-connections", "1000001", "--max-connections must be between 1 and 1000000"),
            ("--max-connections-per-address", "0", "--max-connections-per-address must be between 1 and 1000000"),
            ("--queue-wait", "0", "--queue-wait: '0' is not a duration between 1ms and 10m"),
            ("--queue-wait", "-5ms", "--queue-wait: '-5ms' is not a duration between 1ms and 10m"),
        })
        {
            var result = await _cli.RunAsync("gateway", "serve", "--port", "0", option, value);
            Assert.Equal(2, result.Code);
            Assert.Contains(says, result.Err, StringComparison.Ordinal);
        }

        var mesh = await _cli.RunAsync("mesh", "up", "--max-in-flight", "0");
        Assert.Equal(2, mesh.Code);
        Assert.Contains("--max-in-flight must be between 1 and 1000000", mesh.Err, StringComparison.Ordinal);

        // Every serving command takes --max-connections and --max-connections-per-address (ServerLimits of each server it starts).
        foreach (var command in new[] { new[] { "mesh", "up" }, ["node", "serve", "--gateway", "http://127.0.0.1:9/"], ["registry", "serve"] })
        {
            foreach (var option in new[] { "--max-connections", "--max-connections-per-address" })
            {
                var result = await _cli.RunAsync([.. command, option, "0"]);
                Assert.Equal(2, result.Code);
                Assert.Contains($"{option} must be between 1 and 1000000", result.Err, StringComparison.Ordinal);
            }
        }
    }

    [Fact]
    public async Task Gateway_serve_takes_its_in_flight_limits_from_its_options()
    {
        await using var serving = new ServingProcesses();
        var started = await serving.StartAsync(InfraProcess.StartInfo(_cli.Home, "gateway", "serve", "--port", "0", "--grpc-port", "0",
            "--max-in-flight", "64", "--max-in-flight-per-address", "8", "--json"));
        using var http = new HttpClient { BaseAddress = new Uri(started.GetProperty("gateway").GetString()!) };
        var scrape = (await http.GetStringAsync(new Uri("metrics", UriKind.Relative))).Split('\n');
        Assert.Contains("inframind_gateway_inferences_in_flight_limit{scope=\"all\"} 64", scrape);
        Assert.Contains("inframind_gateway_inferences_in_flight_limit{scope=\"address\"} 8", scrape);
        Assert.Contains("inframind_gateway_inferences_in_flight 0", scrape);
    }

    [SkippableFact]
    public async Task Mesh_up_gives_its_registry_the_disk_floor_of_min_free_disk()
    {
        // Usage errors before the engine is asked for: a floor that is no size, a floor for a registry that does not start here.
        foreach (var (args, says) in new (string[], string)[]
        {
            (["--min-free-disk", "lots"], "--min-free-disk: 'lots' is not a quantity"),
            (["--min-free-disk", "2Gi", "--registry", "eth://127.0.0.1:9/0x" + new string('a', 40)], "--min-free-disk applies to the embedded log registry only"),
        })
        {
            var result = await _cli.RunAsync(["mesh", "up", "--nodes", "1", .. args]);
            Assert.Equal(2, result.Code);
            Assert.Contains(says, result.Err, StringComparison.Ordinal);
        }

        using var engine = await TestEngine.ConnectAsync();
        await using var serving = new ServingProcesses();
        // A floor far above any disk: the embedded registry refuses every publish before it reads the body.
        var started = await serving.StartAsync(InfraProcess.StartInfo(_cli.Home, "mesh", "up", "--nodes", "1", "--port", "0", "--grpc-port", "0",
            "--registry-port", "0", "--min-free-disk", "1000Pi", "--json"));
        using var key = Signing.SigningKey.CreateEphemeral("floor");
        using var registry = new HttpClient { BaseAddress = new Uri(started.GetProperty("registry").GetString()!) };
        var (status, code, detail, _) = await RegistryServeProcess.PublishAsync(registry, RegistryServeProcess.Envelope(key, "floored", "1.0.0", "sha256:" + new string('b', 64), "oci://127.0.0.1:9/floored@sha256:" + new string('c', 64)));
        Assert.Equal((503, "IM5153"), (status, code));
        Assert.Contains("below its floor of 1000Pi", detail, StringComparison.Ordinal);
    }

    [SkippableFact]
    public async Task A_taken_port_is_named_with_its_own_code()
    {
        using var taken = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
        taken.Start();
        var port = ((IPEndPoint)taken.LocalEndpoint).Port.ToString(System.Globalization.CultureInfo.InvariantCulture);
        // The infra process itself: the host's own logs go to the process's stderr, which an in-process run does not capture.
        var registry = await InfraProcess.RunAsync(_cli.Home, "registry", "serve", "--port", port);
        Assert.Equal(4, registry.Code);
        Assert.Contains("IM6021", registry.Err, StringComparison.Ordinal);
        Assert.Contains("--port", registry.Err, StringComparison.Ordinal);
        // Said once, in our words: no host's "Hosting failed to start" with its stack trace before it.
        Assert.Contains($"the registry cannot listen on 127.0.0.1:{port}: the address is in use: another process listens there", registry.Err, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", registry.Out + registry.Err, StringComparison.Ordinal);
        Assert.DoesNotContain("Hosting failed", registry.Out + registry.Err, StringComparison.Ordinal);

        using var engine = await TestEngine.ConnectAsync();
        // The gateway's port: mesh up has started its registry by then, and stops it again.
        var mesh = await _cli.RunAsync("mesh", "up", "--nodes", "1", "--port", port, "--registry-port", "0");
        Assert.Equal(4, mesh.Code);
        Assert.Contains("IM6021", mesh.Err, StringComparison.Ordinal);
        Assert.Contains($"127.0.0.1:{port}", mesh.Err, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", mesh.Err, StringComparison.Ordinal);
        // The fix in mesh up's own options: it has no --listen (the hint was gateway serve's).
        Assert.Contains("hint: choose another --port (0: any free port)", mesh.Err, StringComparison.Ordinal);
        Assert.DoesNotContain("--listen", mesh.Err, StringComparison.Ordinal);
        var registryTaken = await _cli.RunAsync("mesh", "up", "--nodes", "1", "--port", "0", "--registry-port", port);
        Assert.Equal(4, registryTaken.Code);
        Assert.Contains("hint: choose another --registry-port (0: any free port)", registryTaken.Err, StringComparison.Ordinal);
        Assert.DoesNotContain("--listen", registryTaken.Err, StringComparison.Ordinal);
        // The gRPC ingress's port: the same words as every other taken port, not Kestrel's "Failed to bind to address".
        var grpcTaken = await _cli.RunAsync("mesh", "up", "--nodes", "1", "--port", "0", "--grpc-port", port, "--registry-port", "0");
        Assert.Equal(4, grpcTaken.Code);
        Assert.Contains("the address is in use: another process listens there", grpcTaken.Err, StringComparison.Ordinal);
        Assert.DoesNotContain("Failed to bind", grpcTaken.Err, StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine(_cli.Home, "run", "registry.url")), "the registry's announcement outlived mesh up");
    }

    [SkippableFact]
    public async Task A_second_mesh_on_a_home_whose_registry_runs_is_told_to_stop_it_or_use_another_home()
    {
        using var engine = await TestEngine.ConnectAsync();
        var processes = new List<Process>();
        try
        {
            var registry = Start(processes, "registry", "serve", "--port", "0");
            await ReadUntilAsync(registry, "registry", () => File.Exists(Path.Combine(_cli.Home, "run", "registry.url")));
            var (code, output, _) = await _cli.RunAsync("mesh", "up", "--nodes", "1", "--port", "0", "--registry-port", "0", "--json");
            Assert.Equal(4, code);
            var error = JsonDocument.Parse(output).RootElement.GetProperty("error");
            Assert.Equal("IM5126", error.GetProperty("code").GetString());
            // The hint was only "pass its URL with --registry": mesh up's --registry takes an eth:// chain, not a running log.
            Assert.Contains("stop it, or start this one with another INFRAMIND_HOME", error.GetProperty("hint").GetString(), StringComparison.Ordinal);
        }
        finally
        {
            // In two CI runs the registry was still there 60 s after SIGTERM: the signal came before System.CommandLine
            // had installed its handlers and ASP.NET Core's console lifetime swallowed it (TerminationSignals, SignalTests).
            foreach (var p in Enumerable.Reverse(processes))
            {
                await TerminateAsync(p, TimeSpan.FromSeconds(60));
                p.Dispose();
            }
        }
    }

    /// <summary>
    /// One mesh per home, whatever registry it serves: while the home's record names a live `infra mesh up`, another is
    /// IM6049 naming that PID and `infra mesh down`. Following a chain, nothing stopped it before (no log is held); with
    /// the embedded registry it stopped only at the log (IM5126), which names no mesh. The running mesh is a stand-in
    /// of this test that looks like `infra … mesh up`, with its exact start time; it is not signalled.
    /// </summary>
    [Fact]
    public async Task Mesh_up_refuses_while_a_mesh_of_its_home_runs_whatever_registry_it_serves()
    {
        await using var running = await StandInMesh.StartAsync(_cli.Home, seconds: 120);
        var chain = "eth://127.0.0.1:9/0x" + new string('a', 40);
        var home = Path.TrimEndingDirectorySeparator(Path.GetFullPath(_cli.Home));
        foreach (var registry in new[] { new[] { "--registry", chain }, ["--registry-port", "0"] })
        {
            // Bounded: without the check, the embedded variant starts a whole second mesh beside the running one.
            var (code, output, error) = await InfraProcess.RunAsync(
                InfraProcess.StartInfo(_cli.Home, ["mesh", "up", "--nodes", "1", "--port", "0", "--grpc-port", "0", .. registry]), TimeSpan.FromSeconds(60));
            Assert.True(code == 4, $"mesh up {string.Join(' ', registry)}: exit {code}\n{output}\n{error}");
            Assert.Contains($"error IM6049: a mesh of this INFRAMIND_HOME ({home}) already runs: `infra mesh up`, PID {running.Id}", error, StringComparison.Ordinal);
            Assert.Contains("hint: stop it with `infra mesh down`", error, StringComparison.Ordinal);
            Assert.DoesNotContain("   at ", error, StringComparison.Ordinal);
        }

        var json = await InfraProcess.JsonAsync(_cli.Home, 4, "mesh", "up", "--registry", chain, "--port", "0");
        Assert.Equal("IM6049", json.GetProperty("error").GetProperty("code").GetString());
        Assert.False(running.HasExited, "mesh up signalled the running mesh");
        Assert.StartsWith($"{running.Id} ", File.ReadAllText(MeshRecordFile.PathIn(_cli.Home)), StringComparison.Ordinal);
    }

    /// <summary>
    /// A mesh of this home killed with kill -9 left its record and its containers: the next `mesh up` removes both
    /// first, by the same code as `mesh down` (the containers labelled with this home only), says so, and comes up.
    /// </summary>
    [SkippableFact]
    public async Task Mesh_up_first_removes_what_a_dead_mesh_of_its_home_left_and_says_so()
    {
        using var engine = await TestEngine.ConnectAsync();
        var home = Path.TrimEndingDirectorySeparator(Path.GetFullPath(_cli.Home));
        var mine = await DockerCli.RunAsync("run", "-d", "--label", "org.inframind.managed=true", "--label", $"org.inframind.mesh-home={home}", TestEngine.BaseImage, "sleep", "120");
        var other = await DockerCli.RunAsync("run", "-d", "--label", "org.inframind.managed=true", "--label", $"org.inframind.mesh-home={home}-other", TestEngine.BaseImage, "sleep", "120");
        Process? mesh = null;
        try
        {
            Assert.True(mine.Code == 0 && other.Code == 0, mine.Output + other.Output);
            using (var gone = Process.Start(new ProcessStartInfo("true"))!)
            {
                await gone.WaitForExitAsync();
                MeshRecordFile.Write(_cli.Home, gone.Id, "12345");
            }

            mesh = Process.Start(InfraProcess.StartInfo(_cli.Home, "mesh", "up", "--nodes", "1", "--port", "0", "--registry-port", "0", "--grpc-port", "0"))!;
            var said = await ReadUntilAsync(mesh, "mesh up:");
            Assert.Contains($"removed the stale record {MeshRecordFile.PathIn(_cli.Home)} of a mesh that is gone, and 1 container(s) it left", said, StringComparison.Ordinal);
            Assert.NotEqual(0, (await DockerCli.RunAsync("inspect", mine.Output.Trim())).Code);
            Assert.Equal(0, (await DockerCli.RunAsync("inspect", other.Output.Trim())).Code);
            Assert.StartsWith($"{mesh.Id} ", File.ReadAllText(MeshRecordFile.PathIn(_cli.Home)), StringComparison.Ordinal);
        }
        finally
        {
            if (mesh is not null)
            {
                await TerminateAsync(mesh, TimeSpan.FromSeconds(60));
                mesh.Dispose();
            }

            await DockerCli.RunAsync("rm", "-f", mine.Output.Trim());
            await DockerCli.RunAsync("rm", "-f", other.Output.Trim());
        }
    }

    [SkippableFact]
    public async Task Gateway_serve_writes_a_private_token_and_node_serve_joins_with_it()
    {
        using var engine = await TestEngine.ConnectAsync();
        var processes = new List<Process>();
        try
        {
            var registry = Start(processes, "registry", "serve", "--port", "0");
            await ReadUntilAsync(registry, "registry", () => File.Exists(Path.Combine(_cli.Home, "run", "registry.url")));
            // Port 0: the gateway binds a port of its own and announces it in the home.
            var gateway = Start(processes, "gateway", "serve", "--port", "0");
            var gatewayOut = await ReadUntilAsync(gateway, "node-token");
            var gatewayUrl = File.ReadAllText(Path.Combine(_cli.Home, "run", "gateway.url")).Trim();
            Assert.StartsWith("http://127.0.0.1:", gatewayUrl, StringComparison.Ordinal);
            var tokenFile = Path.Combine(_cli.Home, "mesh", "node-token");
            Assert.Contains("gateway at", gatewayOut, StringComparison.Ordinal);
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(tokenFile));
            Assert.True(InfraMind.Serving.MeshToken.IsWellFormed(File.ReadAllText(tokenFile).Trim()));

            var node = Start(processes, "node", "serve", "--gateway", gatewayUrl, "--id", "joiner");
            await ReadUntilAsync(node, "registered with");
            using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
            var state = JsonDocument.Parse(await http.GetStringAsync(new Uri(new Uri(gatewayUrl), "inference/v1"))).RootElement;
            var joined = state.GetProperty("nodes").EnumerateArray().Single();
            Assert.Equal("joiner", joined.GetProperty("id").GetString());
            Assert.True(joined.GetProperty("online").GetBoolean());
        }
        finally
        {
            foreach (var p in Enumerable.Reverse(processes))
            {
                await TerminateAsync(p, TimeSpan.FromSeconds(30));
                p.Dispose();
            }
        }
    }

    private Process Start(List<Process> processes, params string[] args)
    {
        var p = Process.Start(InfraProcess.StartInfo(_cli.Home, args))!;
        processes.Add(p);
        return p;
    }

    /// <summary>Its output up to the first line containing <paramref name="marker"/> (and, if given, until <paramref name="done"/>), within 60 s.</summary>
    private static async Task<string> ReadUntilAsync(Process p, string marker, Func<bool>? done = null)
    {
        var seen = new System.Text.StringBuilder();
        using var limit = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        while (true)
        {
            string? line;
            try
            {
                line = await p.StandardOutput.ReadLineAsync(limit.Token);
            }
            catch (OperationCanceledException)
            {
                line = null;
            }

            if (line is null) Assert.Fail($"no line with '{marker}' (exited: {p.HasExited}): {seen}{(p.HasExited ? await p.StandardError.ReadToEndAsync() : "")}");
            seen.AppendLine(line);
            if (line.Contains(marker, StringComparison.Ordinal) && (done is null || done())) return seen.ToString();
        }
    }

    /// <summary>SIGTERM to a process this test started (by its PID), then its exit within <paramref name="wait"/>.</summary>
    private static async Task TerminateAsync(Process p, TimeSpan wait)
    {
        if (!p.HasExited) Assert.Equal(0, InfraProcess.Signal(p.Id, 15));
        try
        {
            await p.WaitForExitAsync().WaitAsync(wait);
        }
        catch (TimeoutException)
        {
            // Killed, so the run goes on; failed with what the process said, so the next look has something to read.
            p.Kill(entireProcessTree: true);
            await p.WaitForExitAsync();
            Assert.Fail($"{string.Join(' ', p.StartInfo.ArgumentList)} (PID {p.Id}) still ran {wait.TotalSeconds:0} s after SIGTERM; its stderr: {await p.StandardError.ReadToEndAsync()}");
        }
    }
}
