using System.Diagnostics;
using InfraMind.Testing;

namespace InfraMind.Cli.Tests;

/// <summary>
/// `infra mesh down`: stops the `mesh up` of its home by the record that mesh writes (PID and start time), says so
/// when nothing runs, and never signals a process its record does not name exactly (a dead mesh's PID reused, a record
/// of another start); a dead mesh's containers, labelled with its home, go with its stale record.
/// </summary>
[Collection(EngineTests.Name)]
public sealed class MeshDownTests : IDisposable
{
    private readonly string _home = Path.Combine(Path.GetTempPath(), "im-home-" + Guid.NewGuid().ToString("N"));
    private readonly List<Process> _started = [];

    private string Record => MeshRecordFile.PathIn(_home);

    public void Dispose()
    {
        // Only what this test started, by its own handle.
        foreach (var p in _started)
        {
            if (!p.HasExited) p.Kill(entireProcessTree: true);
            p.Dispose();
        }

        if (Directory.Exists(_home)) Directory.Delete(_home, true);
    }

    [SkippableFact]
    public async Task Mesh_down_stops_the_mesh_up_of_its_home_and_its_record_goes()
    {
        using var engine = await TestEngine.ConnectAsync(needsBaseImage: false);
        var mesh = Started(InfraProcess.StartInfo(_home, "mesh", "up", "--nodes", "1", "--port", "0", "--registry-port", "0", "--grpc-port", "0"));
        var meshErr = mesh.StandardError.ReadToEndAsync();
        // Up: its "mesh up:" line (the record is there from the start; a SIGTERM before this would interrupt it, exit 130).
        var upTo = new System.Text.StringBuilder();
        using (var limit = new CancellationTokenSource(TimeSpan.FromSeconds(60)))
        {
            while (await ReadLineAsync(mesh, limit.Token) is { } line)
            {
                upTo.AppendLine(line);
                if (line.Contains("mesh up:", StringComparison.Ordinal)) break;
            }
        }

        if (!upTo.ToString().Contains("mesh up:", StringComparison.Ordinal)) Assert.Fail($"mesh up was not up in 60 s (exited: {mesh.HasExited}): {upTo}{(mesh.HasExited ? await meshErr : "")}");
        var meshOut = mesh.StandardOutput.ReadToEndAsync();
        Assert.StartsWith($"{mesh.Id} ", File.ReadAllText(Record), StringComparison.Ordinal);
        var down = await InfraProcess.JsonAsync(_home, 0, "mesh", "down");
        Assert.True(down.GetProperty("stopped").GetBoolean());
        Assert.Equal(mesh.Id, down.GetProperty("pid").GetInt32());
        // Down returns once the mesh has exited: stopped by SIGTERM, cleanly, its containers and record removed.
        Assert.True(mesh.HasExited || mesh.WaitForExit(2000), "mesh up still runs after mesh down");
        Assert.Equal(0, mesh.ExitCode);
        Assert.Contains("mesh stopped, containers removed", await meshOut, StringComparison.Ordinal);
        Assert.False(File.Exists(Record));
    }

    /// <summary>A line of the process's output; null at its end or once <paramref name="cancellationToken"/> fires.</summary>
    private static async Task<string?> ReadLineAsync(Process p, CancellationToken cancellationToken)
    {
        try
        {
            return await p.StandardOutput.ReadLineAsync(cancellationToken);
        }
        catch (OperationCanceledException)
        {
            return null;
        }
    }

    [Fact]
    public async Task A_zombie_counts_as_exited_not_as_a_process_still_running()
    {
        // A child that exits under a parent that never reaps it (perl, with SIGCHLD at its default, sleeping): a zombie
        // whose /proc entry stays. A mesh whose parent does not reap it looks the same once stopped; `down` must not
        // wait on it. (A shell as the parent is no good: dash may reap the child before it execs into its sleep.)
        var info = new ProcessStartInfo("perl", ["-e", "$| = 1; my $p = fork(); exit 0 if $p == 0; print \"$p\\n\"; sleep 30"])
        {
            RedirectStandardOutput = true,
        };
        using var parent = Process.Start(info)!;
        try
        {
            var zombie = int.Parse((await parent.StandardOutput.ReadLineAsync())!, System.Globalization.CultureInfo.InvariantCulture);
            var deadline = Stopwatch.StartNew();
            while (!File.ReadAllText($"/proc/{zombie}/stat").Contains(") Z ", StringComparison.Ordinal))
            {
                Assert.True(deadline.Elapsed < TimeSpan.FromSeconds(10), "the child never became a zombie");
                await Task.Delay(20);
            }

            Assert.Null(MeshRecord.StartTime(zombie));
            Assert.NotNull(MeshRecord.StartTime(parent.Id));
        }
        finally
        {
            parent.Kill();
            await parent.WaitForExitAsync();
        }
    }

    [Fact]
    public async Task Mesh_down_with_nothing_running_says_so_and_exits_0()
    {
        var (code, output, error) = await InfraProcess.RunAsync(_home, "mesh", "down");
        Assert.True(code == 0, output + error);
        Assert.Contains("no mesh was running", output, StringComparison.Ordinal);
        var json = await InfraProcess.JsonAsync(_home, 0, "mesh", "down");
        Assert.False(json.GetProperty("running").GetBoolean());
        Assert.False(json.GetProperty("staleRecord").GetBoolean());
    }

    [Fact]
    public async Task A_record_of_a_dead_process_or_of_another_program_is_removed_and_nothing_is_signalled()
    {
        // A PID that is gone: a process of this test that has exited.
        using (var gone = Process.Start(new ProcessStartInfo("true"))!)
        {
            await gone.WaitForExitAsync();
            WriteRecord(gone.Id, "12345");
        }

        var json = await InfraProcess.JsonAsync(_home, 0, "mesh", "down");
        Assert.True(json.GetProperty("staleRecord").GetBoolean());
        Assert.False(json.GetProperty("stopped").GetBoolean());
        Assert.False(File.Exists(Record));

        // A live PID with its exact start time, of a program that is no `infra mesh up` (as when the mesh's PID was
        // reused): not signalled, the record removed.
        var sleep = Started(new ProcessStartInfo("sleep", "60"));
        WriteRecord(sleep.Id, StartTime(sleep.Id));
        var (code, output, error) = await InfraProcess.RunAsync(_home, "mesh", "down");
        Assert.True(code == 0, output + error);
        Assert.Contains("no mesh was running (removed the stale record", output, StringComparison.Ordinal);
        Assert.False(File.Exists(Record));
        await Task.Delay(300);
        Assert.False(sleep.HasExited, "mesh down signalled a process its record did not name");
    }

    [Fact]
    public async Task A_record_whose_start_time_differs_is_not_signalled()
    {
        // Looks like `infra … mesh up` on its command line, but started at another time than the record says: the
        // record's mesh is gone and its PID names another process.
        var lookalike = Started(new ProcessStartInfo("python3") { ArgumentList = { "-c", "import time; time.sleep(60)", "infra", "mesh", "up" } });
        var clock = Stopwatch.StartNew();
        while (!File.ReadAllText($"/proc/{lookalike.Id}/cmdline").Contains("mesh", StringComparison.Ordinal) && clock.Elapsed < TimeSpan.FromSeconds(10)) await Task.Delay(50);
        WriteRecord(lookalike.Id, (long.Parse(StartTime(lookalike.Id), System.Globalization.CultureInfo.InvariantCulture) - 1).ToString(System.Globalization.CultureInfo.InvariantCulture));
        var json = await InfraProcess.JsonAsync(_home, 0, "mesh", "down");
        Assert.False(json.GetProperty("stopped").GetBoolean());
        Assert.True(json.GetProperty("staleRecord").GetBoolean());
        Assert.False(File.Exists(Record));
        await Task.Delay(300);
        Assert.False(lookalike.HasExited, "mesh down signalled a process of another start time");
    }

    [Fact]
    public async Task A_mesh_that_outlasts_the_timeout_is_IM6048_naming_kill_KILL()
    {
        // A process of this test that looks like `infra … mesh up`, with its exact start time, ignoring SIGTERM.
        await using var stubborn = await StandInMesh.StartAsync(_home, ignoreSigterm: true);
        var error = await InfraProcess.FailsAsync(_home, 4, "IM6048", "mesh", "down", "--timeout", "1");
        Assert.Contains($"stopping the mesh (PID {stubborn.Id})", error, StringComparison.Ordinal);
        Assert.Contains($"kill -KILL {stubborn.Id}", error, StringComparison.Ordinal);
        var json = await InfraProcess.JsonAsync(_home, 4, "mesh", "down", "--timeout", "1");
        Assert.Equal("IM6048", json.GetProperty("error").GetProperty("code").GetString());
        Assert.False(stubborn.HasExited);
        Assert.True(File.Exists(Record), "the record of a mesh that still runs stays");
    }

    [SkippableFact]
    public async Task A_dead_mesh_s_containers_of_this_home_go_with_its_stale_record_and_no_other()
    {
        using var engine = await TestEngine.ConnectAsync();
        var home = Path.GetFullPath(_home);
        var mine = await DockerCli.RunAsync("run", "-d", "--label", "org.inframind.managed=true", "--label", $"org.inframind.mesh-home={home}", TestEngine.BaseImage, "sleep", "120");
        var other = await DockerCli.RunAsync("run", "-d", "--label", "org.inframind.managed=true", "--label", $"org.inframind.mesh-home={home}-other", TestEngine.BaseImage, "sleep", "120");
        try
        {
            Assert.True(mine.Code == 0 && other.Code == 0, mine.Output + other.Output);
            using (var gone = Process.Start(new ProcessStartInfo("true"))!)
            {
                await gone.WaitForExitAsync();
                WriteRecord(gone.Id, "12345");
            }

            var json = await InfraProcess.JsonAsync(_home, 0, "mesh", "down");
            Assert.Equal(1, json.GetProperty("containersRemoved").GetInt32());
            Assert.NotEqual(0, (await DockerCli.RunAsync("inspect", mine.Output.Trim())).Code);
            Assert.Equal(0, (await DockerCli.RunAsync("inspect", other.Output.Trim())).Code);
        }
        finally
        {
            await DockerCli.RunAsync("rm", "-f", mine.Output.Trim());
            await DockerCli.RunAsync("rm", "-f", other.Output.Trim());
        }
    }

    private Process Started(ProcessStartInfo psi)
    {
        psi.RedirectStandardOutput = true;
        psi.RedirectStandardError = true;
        var p = Process.Start(psi)!;
        _started.Add(p);
        return p;
    }

    private void WriteRecord(int pid, string startTime) => MeshRecordFile.Write(_home, pid, startTime);

    private static string StartTime(int pid) => MeshRecordFile.StartTime(pid);
}
