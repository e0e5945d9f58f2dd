using InfraMind.Testing;
using System.Net;
using System.Text.Json;
using Docker.DotNet.Models;
using InfraMind.Containers.Run;

namespace InfraMind.Containers.Tests.Run;

public sealed class RunningContainerTests(SummarizerImageFixture fixture) : IClassFixture<SummarizerImageFixture>
{
    private static readonly CancellationToken None = CancellationToken.None;

    [SkippableFact]
    public void Summarizer_build_reports_classic_builder_steps()
    {
        Assert.StartsWith("sha256:", fixture.ImageId, StringComparison.Ordinal);
        Assert.Contains(fixture.BuildLines, l => System.Text.RegularExpressions.Regex.IsMatch(l, @"^Step 4/\d+ : RUN pip install -r requirements.txt$"));
    }

    [SkippableFact]
    public async Task Summarizer_answers_through_its_connector_under_the_isolation_policy()
    {
        var engine = fixture.Engine;

        await using var run = await engine.RunAsync(fixture.Spec(), None);
        Assert.True(run.Connector.IsOpen);
        Assert.Equal(["lo"], run.Connector.Interfaces);
        Assert.Equal(9000, run.ContainerPort);
        await Http.WaitForHealthAsync(run.Connector, TimeSpan.FromSeconds(60));

        var (status, body) = await Http.PostJsonAsync(run.Connector,
            """{"text": "Nodes run containers. The sky is blue today. Nodes verify containers before nodes run them. Cats sleep. Containers on nodes are signed by nodes."}""");
        Assert.Equal(HttpStatusCode.OK, status);
        var summary = JsonDocument.Parse(body).RootElement.GetProperty("summary").GetString();
        Assert.False(string.IsNullOrWhiteSpace(summary));
        Assert.Contains("Nodes", summary, StringComparison.Ordinal);
        Assert.DoesNotContain("Cats sleep", summary, StringComparison.Ordinal);

        var (badStatus, badBody) = await Http.PostJsonAsync(run.Connector, "{not json");
        Assert.Equal(HttpStatusCode.BadRequest, badStatus);
        Assert.Equal("invalid_json", JsonDocument.Parse(badBody).RootElement.GetProperty("error").GetProperty("code").GetString());

        // The policy as the engine recorded it, not as we asked for it: no network, nothing published.
        var inspect = await engine.Client.Containers.InspectContainerAsync(run.Id, None);
        Assert.Equal("none", inspect.HostConfig.NetworkMode);
        Assert.True(inspect.HostConfig.PortBindings is null || inspect.HostConfig.PortBindings.Count == 0);
        Assert.True(inspect.NetworkSettings.Ports is null || inspect.NetworkSettings.Ports.Count == 0);
        Assert.Equal(["none"], inspect.NetworkSettings.Networks.Keys);
        Assert.Equal(["ALL"], inspect.HostConfig.CapDrop);
        Assert.Contains("no-new-privileges", inspect.HostConfig.SecurityOpt);
        Assert.Equal(4L << 30, inspect.HostConfig.Memory);
        Assert.Equal(2_000_000_000, inspect.HostConfig.NanoCPUs);
        Assert.Equal(256, inspect.HostConfig.PidsLimit);
        var nofile = Assert.Single(inspect.HostConfig.Ulimits, u => u.Name == "nofile");
        Assert.Equal(4096, nofile.Soft);
        Assert.Equal(4096, nofile.Hard);
        Assert.Equal("true", inspect.Config.Labels[ManagedLabels.Managed]);
        Assert.Equal(run.RunId, inspect.Config.Labels[ManagedLabels.Run]);

        // And as the model sees it: only its loopback, and the limits the policy set.
        var seen = await run.ExecAsync(["sh", "-c", "ls /sys/class/net; ulimit -n; tail -n +2 /proc/net/route | wc -l"], TimeSpan.FromSeconds(10), None);
        Assert.Equal("lo\n4096\n0\n", seen.Stdout);
    }

    [SkippableFact]
    public async Task A_model_writing_its_output_as_fast_as_it_can_leaves_bounded_log_files()
    {
        var engine = fixture.Engine;
        var info = await engine.GetInfoAsync(None);
        // Docker's default driver here; on another driver (journald …) the bound is the operator's, and this test says so.
        Assert.True(info.LoggingDriver is "json-file" or "local", $"the engine's log driver is {info.LoggingDriver}");

        // 48 MB of output, three times what the engine may keep of it, then a mark that the writing ended.
        await using var run = await engine.RunAsync(fixture.Spec() with
        {
            Image = TestEngine.BaseImage,
            Command = ["sh", "-c", "head -c 48000000 /dev/zero | tr '\\0' x | fold -w 1000; touch /tmp/written; sleep 120"],
        }, None);
        var deadline = DateTime.UtcNow.AddSeconds(120);
        while ((await run.ExecAsync(["test", "-f", "/tmp/written"], TimeSpan.FromSeconds(10), None)).ExitCode != 0)
        {
            Assert.True(DateTime.UtcNow < deadline, "the output was not written within 120 s");
            await Task.Delay(200);
        }

        var inspect = await engine.Client.Containers.InspectContainerAsync(run.Id, None);
        Assert.Equal(info.LoggingDriver, inspect.HostConfig.LogConfig.Type);
        Assert.Equal("8m", inspect.HostConfig.LogConfig.Config["max-size"]);
        Assert.Equal("2", inspect.HostConfig.LogConfig.Config["max-file"]);
        // What the engine keeps on the node's disk for this container's output: at most 2 files of 8 MiB (and a line).
        var log = inspect.LogPath is { Length: > 0 } path ? path : Path.Combine("/var/lib/docker/containers", run.Id, "local-logs", "container.log");
        var folder = Path.GetDirectoryName(log)!;
        var kept = Directory.GetFiles(folder, Path.GetFileName(log) + "*").Sum(f => new FileInfo(f).Length);
        Assert.True(kept > 4L << 20, $"{kept:N0} bytes of output kept: the output did not reach the log");
        Assert.True(kept <= (IsolationPolicy.LogFileBytes * IsolationPolicy.LogFiles) + (1 << 20), $"{kept:N0} bytes of output kept in {folder}");
    }

    [SkippableFact]
    public async Task A_model_bound_to_its_own_loopback_only_is_reached()
    {
        var engine = fixture.Engine;

        // Before, the engine's port proxy reached the container's bridge address, so such a model was unreachable.
        await using var run = await engine.RunAsync(
            fixture.Spec() with { Image = TestEngine.BaseImage, ContainerPort = 8000, Command = ["python3", "-m", "http.server", "8000", "--bind", "127.0.0.1"] }, None);
        var deadline = DateTime.UtcNow.AddSeconds(15);
        while (!await run.ProbePortAsync(None))
        {
            Assert.True(DateTime.UtcNow < deadline, "http.server never listened");
            await Task.Delay(20);
        }

        var (status, body) = await Http.GetAsync(run.Connector, "/");
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Contains("Directory listing", body, StringComparison.Ordinal);
    }

    [SkippableFact]
    public async Task A_container_that_was_given_a_network_is_not_entered_but_refused()
    {
        var engine = fixture.Engine;

        // What an engine that ignored network mode none would hand back: a container on a bridge. The check after
        // entering its namespace is what catches it, whatever the engine said it did.
        var label = new Dictionary<string, string>(fixture.SessionLabels) { ["org.inframind.test-network"] = Guid.NewGuid().ToString("N") };
        var network = await engine.Client.Networks.CreateNetworkAsync(new NetworksCreateParameters { Name = "im-test-" + label["org.inframind.test-network"][..12], Labels = label }, None);
        string? id = null;
        try
        {
            var created = await engine.Client.Containers.CreateContainerAsync(new CreateContainerParameters
            {
                Image = TestEngine.BaseImage,
                Cmd = ["sleep", "60"],
                Labels = label,
                HostConfig = new HostConfig { NetworkMode = network.ID, Memory = 32L << 20 },
            }, None);
            id = created.ID;
            await engine.Client.Containers.StartContainerAsync(id, new ContainerStartParameters(), None);
            var e = await Assert.ThrowsAsync<IsolationUnsupportedException>(() => ContainerNamespace.OpenAsync(engine.Client, engine.Endpoint, id, None));
            Assert.Equal(ContainerErrorCodes.IsolationUnsupported, e.Code);
            Assert.Contains("was given network interfaces (eth0, lo)", e.Message, StringComparison.Ordinal);
        }
        finally
        {
            if (id is not null) await Cleanup.RemoveAsync(engine.Client, id, None);
            await Cleanup.RemoveNetworkAsync(engine.Client, network.ID, None);
        }
    }

    [SkippableFact]
    public async Task Memory_or_cpu_beyond_the_machine_is_IM3010_and_nothing_is_created()
    {
        var engine = fixture.Engine;

        var info = await engine.GetInfoAsync(None);
        var runId = "huge-" + Guid.NewGuid().ToString("N")[..8];
        // 7 EiB: what a manifest may write (9 EiB is refused when model.yaml is read), and the engine would take as "no limit".
        var memory = await Assert.ThrowsAsync<ResourcesExceedEngineException>(() => engine.RunAsync(fixture.Spec(runId) with { MemoryBytes = 7L << 60 }, None));
        Assert.Equal(ContainerErrorCodes.ResourcesExceedEngine, memory.Code);
        Assert.Contains("7 EiB", memory.Message, StringComparison.Ordinal);
        Assert.Contains("resources.memory", memory.Hint, StringComparison.Ordinal);
        var cpu = await Assert.ThrowsAsync<ResourcesExceedEngineException>(() => engine.RunAsync(fixture.Spec(runId) with { CpuMillicores = (info.Cpus + 1) * 1000L }, None));
        Assert.Equal(ContainerErrorCodes.ResourcesExceedEngine, cpu.Code);
        Assert.Contains($"{info.Cpus} CPU(s)", cpu.Message, StringComparison.Ordinal);
        Assert.Equal(0, await CountAsync(engine, runId));
    }

    [SkippableFact]
    public async Task Hooks_run_through_exec_with_exit_code_and_output()
    {
        var engine = fixture.Engine;

        await using var run = await engine.RunAsync(fixture.Spec(), None);
        var init = await run.ExecAsync(["sh", "hooks/init.sh"], TimeSpan.FromSeconds(30), None);
        Assert.True(init.Succeeded, init.Stderr);
        Assert.Contains("[init] Downloading tokenizer...", init.Stdout, StringComparison.Ordinal);
        Assert.Contains("tokenizer ready", init.Stdout, StringComparison.Ordinal);

        await Http.WaitForHealthAsync(run.Connector, TimeSpan.FromSeconds(60));
        var health = await run.ExecAsync(["sh", "hooks/health.sh"], TimeSpan.FromSeconds(10), None);
        Assert.Equal(0, health.ExitCode);
        Assert.Contains("\"ok\"", health.Stdout, StringComparison.Ordinal);

        var failing = await run.ExecAsync(["sh", "-c", "echo out; echo oops >&2; exit 3"], TimeSpan.FromSeconds(10), None);
        Assert.Equal(3, failing.ExitCode);
        Assert.Equal("out\n", failing.Stdout);
        Assert.Equal("oops\n", failing.Stderr);
        Assert.False(failing.TimedOut);

        // 10 s, far below the command's 31: time enough on a loaded machine for the engine to start the exec and the
        // shell to print (CI once saw nothing within 500 ms), so what is asserted is the timeout's handling.
        var slow = await run.ExecAsync(["sh", "-c", "echo started; sleep 30 & sleep 31; wait"], TimeSpan.FromSeconds(10), None);
        Assert.True(slow.TimedOut);
        Assert.Equal(-1, slow.ExitCode);
        Assert.Equal("started\n", slow.Stdout);
        Assert.Equal("", slow.Stderr);
        // It returned at its limit, not when the command ended (31 s): a bound on behaviour, not a speed claim.
        Assert.True(slow.Duration < TimeSpan.FromSeconds(25), slow.Duration.ToString());
        // A timed-out hook is killed with everything it started, or hung health checks would pile up.
        var processes = await CommandLinesAsync(run);
        Assert.Contains("serve.py", processes, StringComparison.Ordinal);
        Assert.DoesNotContain("sleep", processes, StringComparison.Ordinal);

        var logs = await run.GetLogsAsync(50, None);
        Assert.Contains("summarizer-v1 listening on 0.0.0.0:9000", logs.Stdout, StringComparison.Ordinal);
    }

    [SkippableFact]
    public async Task A_hook_that_times_out_before_its_shell_started_is_still_killed()
    {
        var engine = fixture.Engine;

        await using var run = await engine.RunAsync(fixture.Spec() with { Command = ["sleep", "120"] }, None);
        // 1 ms: the limit runs out before the engine has started the exec, so the PID line the hook's shell prints
        // first is not read yet when the timeout is handled (an engine slower to start an exec than a hook's timeout).
        var hook = await run.ExecAsync(["sh", "-c", "sleep 41 & sleep 42; wait"], TimeSpan.FromMilliseconds(1), None);
        Assert.True(hook.TimedOut);
        Assert.Equal(-1, hook.ExitCode);
        Assert.True(hook.Duration < RunningContainer.PidGrace + TimeSpan.FromSeconds(10), hook.Duration.ToString());

        var processes = await CommandLinesAsync(run);
        // The container's own command is there (the listing works), the hook's two sleeps are not.
        Assert.Contains("sleep 120", processes, StringComparison.Ordinal);
        Assert.DoesNotContain("sleep 41", processes, StringComparison.Ordinal);
        Assert.DoesNotContain("sleep 42", processes, StringComparison.Ordinal);
    }

    [SkippableFact]
    public async Task Port_probe_tells_a_listener_from_none_and_a_stopped_container_refuses()
    {
        var engine = fixture.Engine;

        // Nothing listens in this container: inside its namespace no proxy accepts for it, the connection is refused.
        await using (var silent = await engine.RunAsync(fixture.Spec() with { Command = ["sleep", "60"] }, None))
        {
            Assert.False(await silent.ProbePortAsync(None));
            var refused = await Assert.ThrowsAsync<System.Net.Sockets.SocketException>(async () => await silent.Connector.ConnectAsync(None));
            Assert.Equal(System.Net.Sockets.SocketError.ConnectionRefused, refused.SocketErrorCode);
        }

        await using var model = await engine.RunAsync(fixture.Spec(), None);
        var deadline = DateTime.UtcNow.AddSeconds(15);
        while (!await model.ProbePortAsync(None))
        {
            Assert.True(DateTime.UtcNow < deadline, "the summarizer never accepted connections");
            await Task.Delay(20);
        }

        // Once the probe says yes, the model answers.
        Assert.Equal(HttpStatusCode.OK, (await Http.GetAsync(model.Connector, "health")).Status);

        // A container that exits before it is entered comes back with a closed connector, to be inspected.
        await using var gone = await engine.RunAsync(fixture.Spec() with { Command = ["true"] }, None);
        Assert.Equal(0, await gone.WaitForExitAsync(None));
        Assert.False(await gone.ProbePortAsync(None));

        // A released connector refuses too: nothing reaches into a removed container's namespace.
        await model.DisposeAsync();
        Assert.False(model.Connector.IsOpen);
        Assert.False(await model.ProbePortAsync(None));
    }

    [SkippableFact]
    public async Task Kill_then_wait_reports_the_exit()
    {
        var engine = fixture.Engine;

        await using var run = await engine.RunAsync(fixture.Spec(), None);
        Assert.True((await run.InspectStateAsync(None)).Running);
        await run.KillAsync(None);
        Assert.Equal(137, await run.WaitForExitAsync(None));
        var state = await run.InspectStateAsync(None);
        Assert.False(state.Running);
        Assert.Equal(137, state.ExitCode);
        Assert.False(state.OomKilled);
        // Nor in the engine's event log, though other tests' containers were killed for memory in the last hour: the
        // query is this container's alone.
        Assert.False(await run.EngineLoggedOomAsync(null, None));
        await run.KillAsync(None); // already stopped: not an error
    }

    [SkippableFact]
    public async Task Nothing_is_left_after_dispose_on_success_exception_and_failed_start()
    {
        var engine = fixture.Engine;

        var ok = "ok-" + Guid.NewGuid().ToString("N")[..8];
        await using (await engine.RunAsync(fixture.Spec(ok), None))
        {
            Assert.Equal(1, await CountAsync(engine, ok));
        }

        Assert.Equal(0, await CountAsync(engine, ok));

        var thrown = "ex-" + Guid.NewGuid().ToString("N")[..8];
        await Assert.ThrowsAsync<InvalidOperationException>(async () =>
        {
            await using var run = await engine.RunAsync(fixture.Spec(thrown), None);
            throw new InvalidOperationException("the caller fails while the container runs");
        });
        Assert.Equal(0, await CountAsync(engine, thrown));

        var failed = "fail-" + Guid.NewGuid().ToString("N")[..8];
        var e = await Assert.ThrowsAsync<ContainerEngineException>(() =>
            engine.RunAsync(fixture.Spec(failed) with { Command = ["/no/such/binary"] }, None));
        Assert.Equal(ContainerErrorCodes.ContainerStartFailed, e.Code);
        Assert.Contains("/no/such/binary", e.Message, StringComparison.Ordinal);
        Assert.Equal(0, await CountAsync(engine, failed));

        // Cancelled at different moments of the create/start sequence: whatever was made must be gone.
        foreach (var delayMs in new[] { 5, 20, 50, 100, 200 })
        {
            var cancelled = $"cancel{delayMs}-" + Guid.NewGuid().ToString("N")[..8];
            using var cts = new CancellationTokenSource(TimeSpan.FromMilliseconds(delayMs));
            try
            {
                await using var run = await engine.RunAsync(fixture.Spec(cancelled), cts.Token);
            }
            catch (OperationCanceledException)
            {
            }

            Assert.Equal(0, await CountAsync(engine, cancelled));
        }
    }

    [SkippableFact]
    public async Task Gpu_request_is_refused_clearly_without_a_gpu_runtime()
    {
        var engine = fixture.Engine;
        Skip.If(await engine.HasGpuRuntimeAsync(None), "this engine has a GPU runtime: the refusal without one cannot be shown here");

        var runId = "gpu-" + Guid.NewGuid().ToString("N")[..8];
        var e = await Assert.ThrowsAsync<ContainerEngineException>(() => engine.RunAsync(fixture.Spec(runId) with { GpuCount = 1 }, None));
        Assert.Equal(ContainerErrorCodes.GpuUnavailable, e.Code);
        Assert.Contains("no GPU runtime", e.Message, StringComparison.Ordinal);
        Assert.Contains("NVIDIA Container Toolkit", e.Hint, StringComparison.Ordinal);
        Assert.Equal(0, await CountAsync(engine, runId));
    }

    [SkippableFact]
    public async Task Missing_image_and_invalid_spec_have_stable_codes()
    {
        var engine = fixture.Engine;

        var missing = await Assert.ThrowsAsync<ContainerEngineException>(() =>
            engine.RunAsync(fixture.Spec() with { Image = "inframind-test/does-not-exist:1" }, None));
        Assert.Equal(ContainerErrorCodes.ImageNotFound, missing.Code);

        var invalid = await Assert.ThrowsAsync<ContainerEngineException>(() =>
            engine.RunAsync(fixture.Spec() with { ContainerPort = 0, MemoryBytes = 10 }, None));
        Assert.Equal(ContainerErrorCodes.InvalidContainerSpec, invalid.Code);
        Assert.Contains("ContainerPort 0", invalid.Message, StringComparison.Ordinal);
        Assert.Contains("MemoryBytes 10", invalid.Message, StringComparison.Ordinal);
    }

    [SkippableFact]
    public async Task Memory_limit_overrun_is_reported_as_oom_killed()
    {
        var engine = fixture.Engine;

        var spec = fixture.Spec() with
        {
            Image = TestEngine.BaseImage,
            MemoryBytes = 32L << 20,
            Command = ["python3", "-c", "import time\nb = bytearray(512 * 1024 * 1024)\ntime.sleep(30)"],
        };
        await using var run = await engine.RunAsync(spec, None);
        using var wait = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var exit = await run.WaitForExitAsync(wait.Token);
        var state = await run.InspectStateAsync(None);
        Assert.True(state.OomKilled, $"exit {exit}, state {state}");
        Assert.Equal(137, exit);
        // The second witness, for when the runtime's out-of-memory event reaches the engine after the exit (the flag is
        // then missing from the state at first): the engine's event log has it.
        Assert.True(await run.EngineLoggedOomAsync(null, None));
    }

    [SkippableFact]
    public async Task Prune_removes_what_a_crashed_process_left_behind_and_its_age_filter_divides_old_from_young()
    {
        var engine = fixture.Engine;
        var session = new Dictionary<string, string> { ["org.inframind.test-prune"] = Guid.NewGuid().ToString("N") };
        // Not disposed: as if the process had been killed. Two leftovers, the second started well after the first,
        // so that an age limit between them must take the old one and leave the young one.
        var old = await engine.RunAsync(fixture.Spec() with { Labels = session }, None);
        var oldCreated = await CreatedAsync(engine, old);
        var gap = TimeSpan.FromSeconds(5);
        if (DateTime.UtcNow - oldCreated < gap) await Task.Delay(gap - (DateTime.UtcNow - oldCreated));
        var young = await engine.RunAsync(fixture.Spec() with { Labels = session }, None);
        var youngCreated = await CreatedAsync(engine, young);
        // The limit below sits 3 s before the young run began: it must fall after the old one (timers may fire a
        // little early against the engine's clock, so the 5 s wait is not asserted to the millisecond).
        Assert.True(youngCreated - oldCreated > TimeSpan.FromSeconds(4), $"old {oldCreated:O}, young {youngCreated:O}");
        Assert.Equal(1, await CountAsync(engine, old.RunId));
        Assert.Equal(1, await CountAsync(engine, young.RunId));

        // Older than an hour: neither. Both are still there afterwards (an empty answer alone proves nothing).
        var notOldEnough = await engine.PruneAsync(session, TimeSpan.FromHours(1), None);
        Assert.Empty(notOldEnough.Containers);
        Assert.Empty(notOldEnough.Networks);
        Assert.Equal(1, await CountAsync(engine, old.RunId));
        Assert.Equal(1, await CountAsync(engine, young.RunId));

        // A limit 3 s before the young run began: at least 2 s after the old one, and the engine's container list
        // gives whole seconds, so the young run is on the safe side by a second more than the list can err by.
        var olderThan = DateTime.UtcNow - (youngCreated - TimeSpan.FromSeconds(3));
        var oldOnly = await engine.PruneAsync(session, olderThan, None);
        Assert.Equal([old.Id], oldOnly.Containers);
        Assert.Empty(oldOnly.Networks);
        Assert.Equal(0, await CountAsync(engine, old.RunId));
        Assert.Equal(1, await CountAsync(engine, young.RunId));

        var pruned = await engine.PruneAsync(session, null, None);
        Assert.Equal([young.Id], pruned.Containers);
        Assert.Empty(pruned.Networks);
        Assert.Equal(0, await CountAsync(engine, young.RunId));
        await old.DisposeAsync(); // already gone: must not throw
        await young.DisposeAsync();
    }

    /// <summary>The command line of every process in the container, one per line (read from its /proc).</summary>
    private static async Task<string> CommandLinesAsync(RunningContainer run)
    {
        var listing = await run.ExecAsync(["sh", "-c", "for p in /proc/[0-9]*; do tr '\\0' ' ' < $p/cmdline 2>/dev/null; echo; done"], TimeSpan.FromSeconds(10), None);
        Assert.Equal(0, listing.ExitCode);
        return listing.Stdout;
    }

    /// <summary>When the engine created a run's container (a run has no network of its own).</summary>
    private static async Task<DateTime> CreatedAsync(ContainerEngine engine, RunningContainer run) =>
        (await engine.Client.Containers.InspectContainerAsync(run.Id, None)).Created.ToUniversalTime();

    /// <summary>Containers (any state) that carry the run's label; a run never has a network.</summary>
    private static async Task<int> CountAsync(ContainerEngine engine, string runId)
    {
        var filter = ContainerEngine.LabelFilter(new Dictionary<string, string> { [ManagedLabels.Run] = runId });
        var containers = await engine.Client.Containers.ListContainersAsync(new ContainersListParameters { All = true, Filters = filter }, None);
        var networks = await engine.Client.Networks.ListNetworksAsync(new NetworksListParameters { Filters = filter }, None);
        Assert.Empty(networks);
        return containers.Count;
    }
}
