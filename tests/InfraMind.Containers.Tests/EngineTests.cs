using InfraMind.Testing;
using System.Formats.Tar;

namespace InfraMind.Containers.Tests;

public sealed class EngineTests
{
    private static readonly CancellationToken None = CancellationToken.None;

    [Fact]
    public async Task Unreachable_engine_is_IM3001_with_the_fix()
    {
        var e = await Assert.ThrowsAsync<EngineUnavailableException>(() =>
            ContainerEngine.ConnectAsync(new Uri("unix:///nonexistent/inframind/docker.sock"), None));
        Assert.Equal("IM3001", e.Code);
        Assert.DoesNotContain("IM3001", e.Message, StringComparison.Ordinal);
        Assert.Contains("/nonexistent/inframind/docker.sock", e.Message, StringComparison.Ordinal);
        Assert.Contains("scripts/setup-engine.sh", e.Hint, StringComparison.Ordinal);
        Assert.Contains("DOCKER_HOST", e.Hint, StringComparison.Ordinal);
        Assert.DoesNotContain("setup-engine.sh", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(null, "unix:///var/run/docker.sock")]
    [InlineData("", "unix:///var/run/docker.sock")]
    [InlineData("unix:///run/user/1000/podman/podman.sock", "unix:///run/user/1000/podman/podman.sock")]
    [InlineData("tcp://127.0.0.1:2375", "tcp://127.0.0.1:2375")]
    public void Docker_host_names_the_endpoint(string? dockerHost, string expected)
    {
        Assert.Equal(new Uri(expected), ContainerEngine.ResolveEndpoint(dockerHost));
    }

    [Theory]
    [InlineData("/var/run/docker.sock")]
    [InlineData("ftp://127.0.0.1")]
    public void Unusable_docker_host_is_IM3001(string dockerHost)
    {
        var e = Assert.Throws<ContainerEngineException>(() => ContainerEngine.ResolveEndpoint(dockerHost));
        Assert.Equal("IM3001", e.Code);
        Assert.Contains("DOCKER_HOST", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Nothing_listening_on_tcp_is_IM3001()
    {
        // Port 9 (discard) on loopback: refused at once on a machine without that service.
        var e = await Assert.ThrowsAsync<EngineUnavailableException>(() =>
            ContainerEngine.ConnectAsync(new Uri("tcp://127.0.0.1:9"), None));
        Assert.Equal("IM3001", e.Code);
    }

    [SkippableFact]
    public async Task Failing_build_reports_the_step_and_output_tail()
    {
        using var engine = await TestEngine.ConnectAsync();

        using var dir = new TempDirectory();
        dir.Write("Dockerfile", $"FROM {TestEngine.BaseImage}\nRUN echo before\nRUN echo failing-step-output && exit 7\nRUN echo never\n");
        var tag = $"inframind-test/failing:{Guid.NewGuid():N}";
        var lines = new List<string>();
        var e = await Assert.ThrowsAsync<ImageBuildFailedException>(() =>
            engine.BuildImageAsync(dir.Path, tag, new Dictionary<string, string>(), new Collector(lines), None));
        Assert.Equal("IM3002", e.Code);
        // The engine appends one step per build label (ours: org.inframind.managed), so only the position is fixed.
        Assert.Matches(@"^Step 3/\d+ : RUN echo failing-step-output && exit 7$", e.FailingStep);
        Assert.Contains("non-zero code: 7", e.Error, StringComparison.Ordinal);
        Assert.Contains("failing-step-output", e.OutputTail, StringComparison.Ordinal);
        Assert.Contains(e.FailingStep!, e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(lines, l => l.Contains("RUN echo never", StringComparison.Ordinal));
        Assert.False(await engine.ImageExistsAsync(tag, None));
        // A step that ran and failed: the hint is about steps (no network in RUN).
        Assert.Contains("RUN steps have no network", e.Hint, StringComparison.Ordinal);
    }

    [SkippableFact]
    public async Task A_dockerfile_the_engine_cannot_parse_is_IM3002_with_a_hint_about_the_dockerfile()
    {
        using var engine = await TestEngine.ConnectAsync();
        using var dir = new TempDirectory();
        dir.Write("Dockerfile", $"FORM {TestEngine.BaseImage}\nRUN echo never\n");
        var tag = $"inframind-test/unparsed:{Guid.NewGuid():N}";
        var e = await Assert.ThrowsAsync<ImageBuildFailedException>(() =>
            engine.BuildImageAsync(dir.Path, tag, new Dictionary<string, string>(), new Collector([]), None));
        Assert.Equal("IM3002", e.Code);
        Assert.Contains("unknown instruction", e.Error, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("the Dockerfile does not parse", e.Hint, StringComparison.Ordinal);
        Assert.DoesNotContain("RUN steps have no network", e.Hint, StringComparison.Ordinal);
    }

    [SkippableFact]
    public async Task Build_context_honours_dockerignore()
    {
        using var engine = await TestEngine.ConnectAsync();

        using var dir = new TempDirectory();
        dir.Write("Dockerfile", $"FROM {TestEngine.BaseImage}\nCOPY . /ctx\nCMD [\"sh\", \"-c\", \"cd /ctx && find . -type f | sort\"]\n");
        dir.Write(".dockerignore", "secret.txt\nlogs/\n!logs/keep.log\n**/*.tmp\n");
        dir.Write("secret.txt", "token");
        dir.Write("logs/a.log", "x");
        dir.Write("logs/keep.log", "x");
        dir.Write("src/x.py", "x");
        dir.Write("src/deep/y.tmp", "x");
        dir.Write("z.tmp", "x");
        var tag = $"inframind-test/ignore:{Guid.NewGuid():N}";
        try
        {
            await engine.BuildImageAsync(dir.Path, tag, new Dictionary<string, string>(), null, None);
            await using var run = await engine.RunAsync(new ContainerSpec { Image = tag, ContainerPort = 9000, MemoryBytes = 64 << 20 }, None);
            Assert.Equal(0, await run.WaitForExitAsync(None));
            var logs = await run.GetLogsAsync(null, None);
            Assert.Equal(
                ["./.dockerignore", "./Dockerfile", "./logs/keep.log", "./src/x.py"],
                logs.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        }
        finally
        {
            await TestEngine.RemoveTestImagesAsync(engine, force: true, tag);
        }
    }

    [SkippableFact]
    public async Task A_test_image_held_for_a_moment_by_a_running_container_is_removed_once_it_is_let_go()
    {
        // What failed a CI run: `infra doctor` without --image (another test) entered a container of the newest image
        // InfraMind built, a conformance test's, just as that test removed it in its clean-up.
        using var engine = await TestEngine.ConnectAsync();
        using var dir = new TempDirectory();
        var marker = Guid.NewGuid().ToString("N");
        dir.Write("Dockerfile", $"FROM {TestEngine.BaseImage}\n");
        var tag = $"inframind-test/held:{marker}";
        var id = await engine.BuildImageAsync(dir.Path, tag, new Dictionary<string, string> { ["org.inframind.test"] = marker }, null, None);
        var container = DockerCli.Run(check: true, "run", "-d", "--network", "none", "--label", $"org.inframind.test={marker}", id, "sleep", "60").Trim();
        try
        {
            var refused = await Assert.ThrowsAsync<ContainerEngineException>(() => engine.RemoveImageAsync(id, force: true, None));
            Assert.Contains("running container", refused.Message, StringComparison.Ordinal);

            var letGo = Task.Run(async () =>
            {
                await Task.Delay(TimeSpan.FromSeconds(1.5));
                DockerCli.Run(check: true, "rm", "-f", container);
            });
            Assert.True(await TestEngine.RemoveImageAsync(engine, id));
            await letGo;
            Assert.False(await engine.ImageExistsAsync(id, None));
        }
        finally
        {
            DockerCli.Run(check: false, "rm", "-f", container);
            await TestEngine.RemoveTestImagesAsync(engine, force: true, id);
        }
    }

    [SkippableFact]
    public async Task Labelled_image_is_found_saved_removed_and_loaded_back()
    {
        using var engine = await TestEngine.ConnectAsync(needsBaseImage: false);

        using var dir = new TempDirectory();
        dir.Write("Dockerfile", "FROM scratch\nCOPY hello.txt /\n");
        dir.Write("hello.txt", "hello\n");
        var marker = Guid.NewGuid().ToString("N");
        var tag = $"inframind-test/scratch:{marker}";
        var labels = new Dictionary<string, string> { ["org.inframind.test"] = marker };
        try
        {
            var id = await engine.BuildImageAsync(dir.Path, tag, labels, null, None);
            Assert.True(await engine.ImageExistsAsync(tag, None));
            var found = Assert.Single(await engine.FindImagesAsync(labels, None));
            Assert.Equal(id, found.Id);
            Assert.Contains(tag, found.Tags);
            Assert.Equal("true", found.Labels[ManagedLabels.Managed]);

            using var archive = new MemoryStream();
            await engine.SaveImageAsync(tag, archive, None);
            archive.Position = 0;
            var names = new List<string>();
            using (var reader = new TarReader(archive, leaveOpen: true))
            {
                while (await reader.GetNextEntryAsync() is { } entry)
                {
                    names.Add(entry.Name);
                }
            }

            Assert.Contains("manifest.json", names);

            Assert.True(await TestEngine.RemoveImageAsync(engine, tag));
            Assert.False(await engine.ImageExistsAsync(tag, None));
            Assert.False(await TestEngine.RemoveImageAsync(engine, tag));

            archive.Position = 0;
            var loaded = await engine.LoadImageAsync(archive, None);
            Assert.Contains(tag, loaded);
            Assert.Equal(id, Assert.Single(await engine.FindImagesAsync(labels, None)).Id);
        }
        finally
        {
            await TestEngine.RemoveTestImagesAsync(engine, force: true, tag);
        }
    }

    [SkippableFact]
    public async Task Saving_a_missing_image_is_IM3006()
    {
        using var engine = await TestEngine.ConnectAsync(needsBaseImage: false);

        var e = await Assert.ThrowsAsync<ContainerEngineException>(() =>
            engine.SaveImageAsync("inframind-test/none:1", Stream.Null, None));
        Assert.Equal(ContainerErrorCodes.ImageNotFound, e.Code);
    }

    [SkippableFact]
    public async Task Loading_what_is_not_a_docker_save_tar_is_IM3008_with_the_fix_as_its_hint()
    {
        using var engine = await TestEngine.ConnectAsync(needsBaseImage: false);

        using var garbage = new MemoryStream(System.Text.Encoding.UTF8.GetBytes("not a tar"));
        var e = await Assert.ThrowsAsync<ContainerEngineException>(() => engine.LoadImageAsync(garbage, None));
        Assert.Equal(ContainerErrorCodes.EngineRequestFailed, e.Code);
        Assert.Equal("check that the file is a tar written by docker save", e.Hint);
    }

    [SkippableFact]
    public async Task Engine_info_reports_the_machine()
    {
        using var engine = await TestEngine.ConnectAsync(needsBaseImage: false);

        var info = await engine.GetInfoAsync(None);
        Assert.Matches(@"^\d+\.\d+", info.ServerVersion);
        Assert.Matches(@"^1\.\d+$", info.ApiVersion);
        // What the engine says, read by another client (the docker CLI): the engine's machine need not be this
        // process's view of it (CPU affinity, cgroup limits, DOTNET_PROCESSOR_COUNT, a remote DOCKER_HOST).
        var cli = DockerCli.Run(check: true, "info", "--format", "{{.NCPU}} {{.MemTotal}} {{.ServerVersion}}").Trim().Split(' ');
        Assert.Equal(int.Parse(cli[0], System.Globalization.CultureInfo.InvariantCulture), info.Cpus);
        Assert.Equal(long.Parse(cli[1], System.Globalization.CultureInfo.InvariantCulture), info.MemoryBytes);
        Assert.Equal(cli[2], info.ServerVersion);
        Assert.True(info.Cpus >= 1);
        Assert.True(info.MemoryBytes > 256L << 20);
        Assert.Contains("runc", info.Runtimes);
        Assert.Equal(await engine.HasGpuRuntimeAsync(None), info.HasGpuRuntime);
    }

    [SkippableFact]
    public async Task Invalid_image_reference_is_a_coded_error_with_the_engines_reason()
    {
        using var engine = await TestEngine.ConnectAsync(needsBaseImage: false);

        var e = await Assert.ThrowsAsync<ContainerEngineException>(() => engine.ImageExistsAsync("UPPER/case:tag", None));
        Assert.Equal(ContainerErrorCodes.EngineRequestFailed, e.Code);
        Assert.Contains("invalid reference format", e.Message, StringComparison.Ordinal);
    }

    private sealed class Collector(List<string> lines) : IProgress<string>
    {
        public void Report(string value) => lines.Add(value);
    }
}
