using System.Runtime.InteropServices;

namespace InfraMind.Cli.Tests;

/// <summary>
/// `$INFRAMIND_HOME/run/mesh.pid` as a test writes it (a stand-in's PID, a dead one's, another start time) and the
/// start time it holds, read from /proc apart from the code under test (MeshDownTests, MeshUpTests).
/// </summary>
internal static class MeshRecordFile
{
    public static string PathIn(string home) => Path.Combine(home, "run", "mesh.pid");

    public static void Write(string home, int pid, string startTime)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(PathIn(home))!);
        File.WriteAllText(PathIn(home), $"{pid} {startTime}\n");
    }

    /// <summary>/proc/PID/stat's field 22.</summary>
    public static string StartTime(int pid)
    {
        Assert.True(RuntimeInformation.IsOSPlatform(OSPlatform.Linux), "these tests read /proc");
        var stat = File.ReadAllText($"/proc/{pid}/stat");
        return stat[(stat.LastIndexOf(')') + 2)..].Split(' ')[19];
    }
}

/// <summary>
/// A process of the test that looks like `infra … mesh up` (python3 with those words on its command line), recorded in
/// a home's mesh.pid with its exact start time, so the commands under test take it for a live mesh; killed when
/// disposed. No engine is reached.
/// </summary>
internal sealed class StandInMesh : IAsyncDisposable
{
    private readonly System.Diagnostics.Process _process;

    private StandInMesh(System.Diagnostics.Process process) => _process = process;

    public int Id => _process.Id;

    public bool HasExited => _process.HasExited;

    /// <summary>Starts one that lives <paramref name="seconds"/> (ignoring SIGTERM if <paramref name="ignoreSigterm"/>) and records it in <paramref name="home"/>.</summary>
    public static async Task<StandInMesh> StartAsync(string home, int seconds = 60, bool ignoreSigterm = false)
    {
        var script = (ignoreSigterm ? "import signal; signal.signal(signal.SIGTERM, signal.SIG_IGN); " : "") +
            $"import time; print('ready', flush=True); time.sleep({seconds})";
        var process = System.Diagnostics.Process.Start(new System.Diagnostics.ProcessStartInfo("python3")
        {
            ArgumentList = { "-c", script, "infra", "mesh", "up" },
            RedirectStandardOutput = true,
        })!;
        var mesh = new StandInMesh(process);
        try
        {
            Assert.Equal("ready", await process.StandardOutput.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(10)));
            MeshRecordFile.Write(home, process.Id, MeshRecordFile.StartTime(process.Id));
            return mesh;
        }
        catch
        {
            await mesh.DisposeAsync();
            throw;
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited) _process.Kill();
        await _process.WaitForExitAsync();
        _process.Dispose();
    }
}
