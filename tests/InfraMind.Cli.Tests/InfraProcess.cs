using System.Diagnostics;
using System.Runtime.InteropServices;
using InfraMind.Testing;

namespace InfraMind.Cli.Tests;

/// <summary>Runs the built `infra` executable as a separate process, as a user's shell would.</summary>
internal static class InfraProcess
{
    public static ProcessStartInfo StartInfo(string home, params string[] args)
    {
        var psi = new ProcessStartInfo("dotnet", [Path.Combine(AppContext.BaseDirectory, "infra.dll"), .. args])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = TestEngine.RepoRoot,
        };
        psi.Environment["INFRAMIND_HOME"] = home;
        psi.Environment["NO_COLOR"] = "1";
        return psi;
    }

    public static async Task<(int Code, string Out, string Err)> RunAsync(ProcessStartInfo psi, TimeSpan timeout)
    {
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            await p.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            p.Kill(entireProcessTree: true);
            throw;
        }

        return (p.ExitCode, await stdout, await stderr);
    }

    /// <summary>`infra ARGS` with <paramref name="home"/> as its home, to its exit (at most 3 minutes).</summary>
    public static Task<(int Code, string Out, string Err)> RunAsync(string home, params string[] args) => RunAsync(StartInfo(home, args), TimeSpan.FromMinutes(3));

    /// <summary>`infra ARGS --json`'s output, after checking its exit code (the output and errors are in the failure message).</summary>
    public static async Task<System.Text.Json.JsonElement> JsonAsync(string home, int expectedCode, params string[] args)
    {
        var (code, output, error) = await RunAsync(home, [.. args, "--json"]);
        Assert.True(code == expectedCode, $"infra {string.Join(' ', args)}: exit {code}, expected {expectedCode}\n{output}\n{error}");
        return System.Text.Json.JsonDocument.Parse(output).RootElement.Clone();
    }

    /// <summary>Runs <paramref name="args"/> expecting failure <paramref name="code"/> with exit <paramref name="exit"/>: the error line names the code, never a stack trace.</summary>
    public static async Task<string> FailsAsync(string home, int exit, string code, params string[] args)
    {
        var (actual, output, error) = await RunAsync(home, args);
        Assert.True(actual == exit, $"infra {string.Join(' ', args)}: exit {actual}, expected {exit}\n{output}\n{error}");
        Assert.Contains($"error {code}:", error, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", error, StringComparison.Ordinal);
        return error;
    }

    /// <summary>Sends <paramref name="signal"/> (15 SIGTERM, 2 SIGINT as Ctrl-C) to a process the test started, by its PID; 0 when sent.</summary>
    public static int Signal(int pid, int signal) => Kill(pid, signal);

    [DllImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static extern int Kill(int pid, int signal);
}
